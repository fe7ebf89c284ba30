// An omniORB client that checks every operation of IthacaBench::Echo on the
// object REF and prints one line per check; exits 1 on the first failure.
// Usage: check_client REF [big]   (big: also echo a 5 MiB string)
#include "IthacaBench.hh"
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
    std::cerr << "usage: check_client REF [big]" << std::endl;
    return 2;
  }
  try {
    CORBA::Object_var obj = orb->string_to_object(argv[1]);
    IthacaBench::Echo_var echo = IthacaBench::Echo::_narrow(obj);
    check(!CORBA::is_nil(echo), "narrow");

    CORBA::String_var text = echo->echoString("h\xc3\xa9llo from omniORB");
    check(std::string(text.in()) == "h\xc3\xa9llo from omniORB", "echoString");
    check(echo->add(40, 2) == 42, "add");
    try {
      echo->add(1000000, 1);
      check(false, "add raises Overflow");
    } catch (const IthacaBench::Overflow& e) {
      check(e.limit == 1000000, "add raises Overflow");
    }
    IthacaBench::Points items;
    items.length(3);
    for (CORBA::ULong i = 0; i < 3; ++i) {
      items[i].x = i;
      items[i].y = 10 * i;
      items[i].label = CORBA::string_dup(i == 0 ? "first" : i == 1 ? "second" : "third");
    }
    IthacaBench::Points_var reversed = echo->reverse(items);
    check(reversed->length() == 3 && reversed[0].x == 2 && std::string(reversed[0].label.in()) == "third" &&
              reversed[2].y == 0,
          "reverse");
    echo->ping();
    check(true, "ping");
    check(!echo->_non_existent(), "_non_existent");
    check(echo->_is_a("IDL:IthacaBench/Echo:1.0"), "_is_a");
    if (argc > 2 && std::string(argv[2]) == "big") {
      std::string big(5 * 1024 * 1024, 'x');
      for (size_t i = 0; i < big.size(); ++i) big[i] = 'a' + (i % 26);
      CORBA::String_var back = echo->echoString(big.c_str());
      check(std::string(back.in()) == big, "echoString 5 MiB");
    }
    try {
      CORBA::Object_var missing = orb->string_to_object(
          (std::string(argv[1]).substr(0, std::string(argv[1]).rfind('/')) + "/Missing").c_str());
      IthacaBench::Echo_var other = IthacaBench::Echo::_unchecked_narrow(missing);
      other->echoString("x");
      check(false, "unknown key raises OBJECT_NOT_EXIST");
    } catch (const CORBA::OBJECT_NOT_EXIST&) {
      check(true, "unknown key raises OBJECT_NOT_EXIST");
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
