// An omniORB server with one Rich::Store object under the key "Store", for
// the generated client's interop test. echoRecord raises BAD_PARAM unless
// it gets make_record().
// Usage: rich_server -ORBendPoint giop:tcp:127.0.0.1:PORT
// Prints the object's IOR, then serves until killed.
#include "rich_values.hh"
#include <iostream>

class StoreServant : public POA_Rich::Store {
 public:
  char* name() override { return CORBA::string_dup("omni"); }
  CORBA::Long counter() override { return counter_; }
  void counter(CORBA::Long value) override { counter_ = value; }
  CORBA::Long increment(CORBA::Long by) override {
    if ((by > 0 && counter_ > 2147483647 - by) || (by < 0 && counter_ < -2147483647 - 1 - by))
      throw CORBA::BAD_PARAM(0, CORBA::COMPLETED_NO);
    counter_ += by;
    return counter_;
  }
  Rich::Record* echoRecord(const Rich::Record& r) override {
    if (!same_record(make_record(), r)) throw CORBA::BAD_PARAM(0, CORBA::COMPLETED_NO);
    return new Rich::Record(r);
  }
  Rich::Value* swap(Rich::Point& p, Rich::Shape_out where, Rich::Mood m) override {
    if (m == Rich::away) throw Rich::Rejected("away", Rich::away);
    Rich::Shape* shape = new Rich::Shape;
    shape->at(p);
    shape->_d(m);
    where = shape;
    p.x += 1;
    p.y += 1;
    Rich::Value* v = new Rich::Value;
    if (m == Rich::calm) {
      v->small(1);
    } else {
      v->big(2.5);
      v->_d(3);
    }
    return v;
  }
  void reject(const char* reason, CORBA::ULong max) override {
    if (max > 0) throw Rich::Limit(max);
    throw Rich::Rejected(reason, Rich::busy);
  }
  CORBA::Any* echoAny(const CORBA::Any& a) override { return new CORBA::Any(a); }
  Rich::Wide* echoWide(const Rich::Wide& w) override { return new Rich::Wide(w); }
  Rich::Amount twice(const Rich::Amount& a) override { return Rich::Amount(a * CORBA::Fixed(2)); }
  void notify(const char*) override { ++notifications_; }
  CORBA::ULong notifications() override { return notifications_; }
  CORBA::Object_ptr whoami() override { return _this(); }

 private:
  CORBA::Long counter_ = 0;
  CORBA::ULong notifications_ = 0;
};

int main(int argc, char** argv) {
  CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
  CORBA::Object_var poa_object = orb->resolve_initial_references("omniINSPOA");
  PortableServer::POA_var poa = PortableServer::POA::_narrow(poa_object);
  PortableServer::ObjectId_var id = PortableServer::string_to_ObjectId("Store");
  StoreServant* servant = new StoreServant;
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
