// An omniORB server with one IthacaBench::Echo object under the key "Echo".
// Usage: echo_server -ORBendPoint giop:tcp:127.0.0.1:PORT
// Prints the object's IOR, then serves until killed.
#include "IthacaBench.hh"
#include <iostream>

class EchoServant : public POA_IthacaBench::Echo {
 public:
  char* echoString(const char* text) override { return CORBA::string_dup(text); }
  CORBA::Long add(CORBA::Long a, CORBA::Long b) override {
    if (static_cast<long long>(a) + b > 1000000) throw IthacaBench::Overflow(1000000);
    return a + b;
  }
  IthacaBench::Points* reverse(const IthacaBench::Points& items) override {
    IthacaBench::Points* result = new IthacaBench::Points;
    CORBA::ULong n = items.length();
    result->length(n);
    for (CORBA::ULong i = 0; i < n; ++i) (*result)[i] = items[n - 1 - i];
    return result;
  }
  void ping() override {}
};

int main(int argc, char** argv) {
  CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
  CORBA::Object_var poa_object = orb->resolve_initial_references("omniINSPOA");
  PortableServer::POA_var poa = PortableServer::POA::_narrow(poa_object);
  PortableServer::ObjectId_var id = PortableServer::string_to_ObjectId("Echo");
  EchoServant* servant = new EchoServant;
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
