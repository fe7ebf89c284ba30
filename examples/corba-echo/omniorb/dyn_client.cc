// An omniORB client for Dyn::Mirror (Dyn.idl) that sends values of every IDL
// type and checks what comes back; one line per check, exit 1 on a failure.
// Usage: dyn_client REF
#include "dyn_values.hh"
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
    std::cerr << "usage: dyn_client REF" << std::endl;
    return 2;
  }
  try {
    CORBA::Object_var obj = orb->string_to_object(argv[1]);
    Dyn::Mirror_var mirror = Dyn::Mirror::_narrow(obj);
    check(!CORBA::is_nil(mirror), "narrow");

    Dyn::Bag bag = make_bag();
    Dyn::Bag_var back = mirror->echoBag(bag);
    check(same_bag(bag, back.in()), "echoBag");

    {
      Dyn::Tagged t;
      t.text("two");
      t._d(2);
      Dyn::Tagged_var copy;
      Dyn::Tagged_var r = mirror->echoTagged(t, copy.out());
      check(r->_d() == 2 && std::string(r->text()) == "two" && copy->_d() == 2 &&
                std::string(copy->text()) == "two",
            "echoTagged text");
    }
    {
      Dyn::Tagged t;
      t.count(CORBA::ULongLong(1) << 50);
      CORBA::Long d = t._d();
      Dyn::Tagged_var copy;
      Dyn::Tagged_var r = mirror->echoTagged(t, copy.out());
      check(r->_d() == d && r->count() == (CORBA::ULongLong(1) << 50) && copy->_d() == d &&
                copy->count() == (CORBA::ULongLong(1) << 50),
            "echoTagged default");
    }
    {
      Dyn::Node n;
      n.label = CORBA::string_dup("root");
      n.kids.length(1);
      n.kids[0].label = CORBA::string_dup("child");
      n.kids[0].kids.length(1);
      n.kids[0].kids[0].label = CORBA::string_dup("grandchild");
      Dyn::Node original = n;
      Dyn::Node_var r = mirror->grow(n);
      check(same_node(r.in(), original), "grow returns the tree");
      check(n.kids.length() == 2 && std::string(n.kids[1].label.in()) == "new" &&
                same_node(n.kids[0], original.kids[0]),
            "grow adds a kid (inout)");
    }
    {
      CORBA::Any a;
      Dyn::Points pts;
      pts.length(2);
      pts[0] = point(1, 1, "p");
      pts[1] = point(2, 2, "q");
      a <<= pts;
      CORBA::Any_var r = mirror->echoAny(a);
      const Dyn::Points* got = 0;
      check((r.in() >>= got) && got && same_points(*got, pts), "echoAny Points");
    }
    {
      CORBA::Any a;
      Dyn::Node n;
      n.label = CORBA::string_dup("tree");
      n.kids.length(1);
      n.kids[0].label = CORBA::string_dup("leaf");
      a <<= n;
      CORBA::Any_var r = mirror->echoAny(a);
      const Dyn::Node* got = 0;
      check((r.in() >>= got) && got && same_node(*got, n), "echoAny recursive Node");
    }
    {
      CORBA::Any a;
      Dyn::Shape s;
      CORBA::WChar title[] = {0x48, 0xE9, 0x20AC, 0};
      s.title((const CORBA::WChar*)title);  // the const overload copies
      a <<= s;
      CORBA::Any_var r = mirror->echoAny(a);
      const Dyn::Shape* got = 0;
      check((r.in() >>= got) && got && got->_d() == Dyn::blue && got->title()[2] == 0x20AC, "echoAny Shape");
    }
    {
      CORBA::Any a;
      a <<= Dyn::green;
      CORBA::Any_var r = mirror->echoAny(a);
      Dyn::Color c = Dyn::red;
      check((r.in() >>= c) && c == Dyn::green, "echoAny Color");
    }
    try {
      mirror->refuse("no way");
      check(false, "refuse raises Refused");
    } catch (const Dyn::Refused& e) {
      check(std::string(e.why.in()) == "no way" && e.hue == Dyn::blue, "refuse raises Refused");
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
