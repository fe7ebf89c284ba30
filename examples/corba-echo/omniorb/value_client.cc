// An omniORB client for Vals::Keeper (Values.idl) that sends valuetypes,
// boxes, shared, null, cyclic and truncatable values and checks what
// comes back; one line per check, exit 1 on a failure.
// Usage: value_client REF
#include "values_common.hh"
#include <iostream>
#include <string>

static int failures = 0;

static void check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok " : "FAIL ") << what << std::endl;
  if (!ok) ++failures;
}

int main(int argc, char** argv) {
  CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
  if (argc < 2) {
    std::cerr << "usage: value_client REF" << std::endl;
    return 2;
  }
  register_factories(orb);
  try {
    CORBA::Object_var obj = orb->string_to_object(argv[1]);
    Vals::Keeper_var keeper = Vals::Keeper::_narrow(obj);
    check(!CORBA::is_nil(keeper), "narrow");
    {
      Vals::Node_var sent = chain(10, 3);
      Vals::Node_var r = keeper->echoNode(sent);
      bool ok = r.in() && r->n() == 10 && r->next() && r->next()->n() == 11 &&
                r->next()->next() && r->next()->next()->n() == 12 && !r->next()->next()->next() &&
                std::string(r->name()->_value()) == "even" &&
                std::string(r->next()->name()->_value()) == "odd";
      check(ok, "echoNode chain");
    }
    {
      Vals::Node_var r = keeper->echoNode(0);
      check(!r.in(), "echoNode null");
    }
    {
      // One label shared by two nodes of the chain.
      Vals::Label_var shared = label("shared");
      Vals::Node_var tail = make_node(2, 0, shared.in());
      Vals::Node_var head = make_node(1, tail.in(), shared.in());
      Vals::Node_var r = keeper->echoNode(head);
      check(r.in() && r->next() && r->name() && r->name() == r->next()->name() &&
                std::string(r->name()->_value()) == "shared",
            "echoNode shared label");
    }
    {
      Vals::Node_var sent = chain(1, 1);
      Vals::Pair_var p = keeper->share(sent);
      check(p->a.in() && p->a.in() == p->b.in() && p->a->n() == 1, "share");
    }
    {
      Vals::Node_var a = chain(1, 1);
      Vals::Node_var b = chain(1, 1);
      check(keeper->same(a, a), "same value twice");
      check(!keeper->same(a, b), "equal values are not the same");
    }
    {
      Vals::Label_var l = label("boxed");
      Vals::Label_var r = keeper->echoLabel(l);
      check(r.in() && std::string(r->_value()) == "boxed", "echoLabel");
      Vals::Label_var none = keeper->echoLabel(0);
      check(!none.in(), "echoLabel null");
    }
    {
      Vals::Node_var r = keeper->cycle(5);
      check(r.in() && r->n() == 5 && r->next() == r.in(), "cycle");
    }
    {
      // Values of types derived from the formal Base.
      Vals::Derived_var d = new OBV_Vals::Derived();
      d->a(3);
      d->s(CORBA::string_dup("lost"));
      Vals::Base_var r = keeper->echoBase(d);
      check(r.in() && r->a() == 3, "echoBase");
      std::cout << "echoBase Derived returned " << kind(r.in()) << std::endl;
      Vals::Plain_var p = new OBV_Vals::Plain();
      p->a(6);
      p->d(2.5);
      r = keeper->echoBase(p);
      Vals::Plain* plain = Vals::Plain::_downcast(r.in());
      check(plain && plain->a() == 6 && plain->d() == 2.5, "echoBase Plain");
      Vals::Extra_var e = new OBV_Vals::Extra();
      e->a(8);
      e->more(9);
      r = keeper->echoBase(e);
      check(r.in() && r->a() == 8, "echoBase Extra");
      std::cout << "echoBase Extra returned " << kind(r.in()) << std::endl;
    }
    {
      Vals::Derived_var d = new OBV_Vals::Derived();
      d->a(4);
      d->s(CORBA::string_dup("kept"));
      Vals::Derived_var r = keeper->echoDerived(d);
      check(r.in() && r->a() == 4 && std::string(r->s()) == "kept", "echoDerived chunked");
    }
  } catch (const CORBA::SystemException& e) {
    std::cout << "FAIL system exception " << e._name() << " minor " << e.minor() << std::endl;
    return 1;
  } catch (const CORBA::Exception& e) {
    std::cout << "FAIL exception " << e._name() << std::endl;
    return 1;
  }
  orb->destroy();
  return failures == 0 ? 0 : 1;
}
