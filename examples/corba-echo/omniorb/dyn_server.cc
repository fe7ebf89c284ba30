// An omniORB server with one Dyn::Mirror object under the key "Echo", for
// the dynamic codec's DII test: Ithaca's generic client sends values of
// every IDL type. echoBag raises BAD_PARAM unless it gets the expected Bag.
// Usage: dyn_server -ORBendPoint giop:tcp:127.0.0.1:PORT
// Prints the object's IOR, then serves until killed.
#include "dyn_values.hh"
#include <iostream>

class MirrorServant : public POA_Dyn::Mirror {
 public:
  Dyn::Bag* echoBag(const Dyn::Bag& b) override {
    if (!same_bag(make_bag(), b)) throw CORBA::BAD_PARAM(0, CORBA::COMPLETED_NO);
    return new Dyn::Bag(b);
  }
  Dyn::Tagged* echoTagged(const Dyn::Tagged& t, Dyn::Tagged_out copy) override {
    copy = new Dyn::Tagged(t);
    return new Dyn::Tagged(t);
  }
  Dyn::Node* grow(Dyn::Node& n) override {
    Dyn::Node* result = new Dyn::Node(n);
    CORBA::ULong len = n.kids.length();
    n.kids.length(len + 1);
    n.kids[len].label = CORBA::string_dup("new");
    return result;
  }
  CORBA::Any* echoAny(const CORBA::Any& a) override { return new CORBA::Any(a); }
  void refuse(const char* why) override { throw Dyn::Refused(why, Dyn::blue); }
};

int main(int argc, char** argv) {
  CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
  CORBA::Object_var poa_object = orb->resolve_initial_references("omniINSPOA");
  PortableServer::POA_var poa = PortableServer::POA::_narrow(poa_object);
  PortableServer::ObjectId_var id = PortableServer::string_to_ObjectId("Echo");
  MirrorServant* servant = new MirrorServant;
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
