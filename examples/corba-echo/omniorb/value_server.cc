// An omniORB server with one Vals::Keeper object under the key "Values",
// for the valuetype interop test: Ithaca's generic client sends and
// receives boxes, shared, cyclic and truncatable values.
// Usage: value_server -ORBendPoint giop:tcp:127.0.0.1:PORT
// Prints the object's IOR, then serves until killed.
#include "values_common.hh"
#include <iostream>

class KeeperServant : public POA_Vals::Keeper {
 public:
  Vals::Node* echoNode(Vals::Node* n) override {
    if (n) n->_add_ref();
    return n;
  }
  Vals::Pair* share(Vals::Node* n) override {
    Vals::Pair* p = new Vals::Pair;
    if (n) {
      n->_add_ref();
      p->a = n;
      n->_add_ref();
      p->b = n;
    }
    return p;
  }
  CORBA::Boolean same(Vals::Node* a, Vals::Node* b) override { return a && a == b; }
  Vals::Label* echoLabel(Vals::Label* l) override {
    if (l) l->_add_ref();
    return l;
  }
  Vals::Node* cycle(CORBA::Long n) override {
    Vals::Node* node = make_node(n, 0, 0);
    node->next(node);  // a reference cycle: leaked, as a test may
    return node;
  }
  Vals::Base* echoBase(Vals::Base* b) override {
    if (b) b->_add_ref();
    return b;
  }
  Vals::Derived* echoDerived(Vals::Derived* d) override {
    if (d) d->_add_ref();
    return d;
  }
};

int main(int argc, char** argv) {
  CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
  register_factories(orb);
  CORBA::Object_var poa_object = orb->resolve_initial_references("omniINSPOA");
  PortableServer::POA_var poa = PortableServer::POA::_narrow(poa_object);
  PortableServer::ObjectId_var id = PortableServer::string_to_ObjectId("Values");
  KeeperServant* servant = new KeeperServant;
  poa->activate_object_with_id(id, servant);
  servant->_remove_ref();
  PortableServer::POAManager_var manager = poa->the_POAManager();
  manager->activate();
  CORBA::Object_var reference = poa->id_to_reference(id);
  CORBA::String_var ior = orb->object_to_string(reference);
  std::cout << ior << std::endl;
  orb->run();
  return 0;
}
