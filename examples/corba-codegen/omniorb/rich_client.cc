// An omniORB client for Rich::Store that calls every operation and
// attribute (its own and its base's) and prints one line per check; exits 1
// on a failure.
// Usage: rich_client REF [wide]   (wide: also call echoWide)
#include "rich_values.hh"
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
    std::cerr << "usage: rich_client REF [wide]" << std::endl;
    return 2;
  }
  try {
    CORBA::Object_var obj = orb->string_to_object(argv[1]);
    Rich::Store_var store = Rich::Store::_narrow(obj);
    check(!CORBA::is_nil(store), "narrow");
    check(store->_is_a("IDL:ithaca.example/Rich/Inner/Base:1.0"), "_is_a base");

    Rich::Record record = make_record();
    Rich::Record_var back = store->echoRecord(record);
    check(same_record(record, back.in()), "echoRecord");

    Rich::Point p = pt(1, 2);
    Rich::Shape_var where;
    Rich::Value_var v = store->swap(p, where.out(), Rich::busy);
    check(p.x == 2 && p.y == 3, "swap inout");
    check(where->_d() == Rich::busy && same_pt(where->at(), pt(1, 2)), "swap out union");
    check(v->_d() == 3 && v->big() == 2.5, "swap result union");
    try {
      store->swap(p, where.out(), Rich::away);
      check(false, "swap raises Rejected");
    } catch (const Rich::Rejected& e) {
      check(std::string(e.reason.in()) == "away" && e.why == Rich::away, "swap raises Rejected");
    }
    try {
      store->reject("no", 7);
      check(false, "reject raises Limit");
    } catch (const Rich::Limit& e) {
      check(e.max == 7, "reject raises Limit");
    }
    try {
      store->reject("no", 0);
      check(false, "reject raises Rejected");
    } catch (const Rich::Rejected& e) {
      check(std::string(e.reason.in()) == "no" && e.why == Rich::busy, "reject raises Rejected");
    }

    CORBA::Any a;
    Rich::Points points;
    points.length(1);
    points[0] = pt(3, 4);
    a <<= points;
    CORBA::Any_var a_back = store->echoAny(a);
    const Rich::Points* got = 0;
    check((a_back.in() >>= got) && got && got->length() == 1 && same_pt((*got)[0], pt(3, 4)), "echoAny");

    if (argc > 2 && std::string(argv[2]) == "wide") {
      Rich::Wide w;
      CORBA::WChar text[] = {0x65E5, 0x672C, 0x20, 0x77, 0};
      w.text = CORBA::wstring_dup(text);
      w.letter = 0x20AC;
      Rich::Wide_var w_back = store->echoWide(w);
      const CORBA::WChar* t = w_back->text.in();
      bool same = true;
      for (int i = 0; text[i] || t[i]; ++i) same = same && text[i] == t[i];
      check(same && w_back->letter == 0x20AC, "echoWide");
    }

    check(store->twice(Rich::Amount(CORBA::Fixed("-12345678.25"))) == Rich::Amount(CORBA::Fixed("-24691356.50")),
          "twice (fixed)");
    CORBA::String_var name = store->name();
    check(std::string(name.in()) == "shop", "name attribute");
    store->counter(40);
    check(store->increment(2) == 42 && store->counter() == 42, "counter attribute and increment");
    store->counter(2147483647);
    try {
      store->increment(1);
      check(false, "increment raises BAD_PARAM");
    } catch (const CORBA::BAD_PARAM&) {
      check(true, "increment raises BAD_PARAM");
    }
    store->notify("from omniORB");
    check(store->notifications() >= 1, "notify (oneway) and notifications");
    CORBA::Object_var me = store->whoami();
    check(!CORBA::is_nil(me) && me->_is_a("IDL:ithaca.example/Rich/Store:1.0"), "whoami");
    Rich::Inner::Base_var base = Rich::Inner::Base::_narrow(obj);
    check(!CORBA::is_nil(base) && base->counter() == 2147483647, "narrow to the base");
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
