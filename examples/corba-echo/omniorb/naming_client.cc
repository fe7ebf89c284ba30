// An omniORB client of a CosNaming service: resolves a corbaname: URL to an
// IthacaBench::Echo and calls it, then uses the NamingContextExt at NAMING
// (a corbaloc or IOR) directly: resolve_str, to_name/to_string, list with a
// binding iterator, rebind, bind_new_context, unbind and the NotFound and
// AlreadyBound exceptions. Prints one line per check; exits 1 on failure.
// Usage: naming_client CORBANAME NAMING STRING_NAME
//   CORBANAME    corbaname: URL of an Echo object
//   NAMING       reference of the root naming context
//   STRING_NAME  the same object's stringified name in that context
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
  if (argc < 4) {
    std::cerr << "usage: naming_client CORBANAME NAMING STRING_NAME" << std::endl;
    return 2;
  }
  try {
    CORBA::Object_var obj = orb->string_to_object(argv[1]);
    IthacaBench::Echo_var echo = IthacaBench::Echo::_narrow(obj);
    check(!CORBA::is_nil(echo), "narrow corbaname");
    CORBA::String_var text = echo->echoString("via corbaname");
    check(std::string(text.in()) == "via corbaname", "echoString via corbaname");

    CORBA::Object_var root_obj = orb->string_to_object(argv[2]);
    CosNaming::NamingContextExt_var root = CosNaming::NamingContextExt::_narrow(root_obj);
    check(!CORBA::is_nil(root), "narrow NamingContextExt");

    CORBA::Object_var again = root->resolve_str(argv[3]);
    IthacaBench::Echo_var echo2 = IthacaBench::Echo::_narrow(again);
    CORBA::String_var text2 = echo2->echoString("via resolve_str");
    check(std::string(text2.in()) == "via resolve_str", "resolve_str");

    CosNaming::Name_var name = root->to_name(argv[3]);
    CORBA::String_var back = root->to_string(name.in());
    check(std::string(back.in()) == argv[3], "to_name and to_string");

    // A context of our own, with three bindings, listed one at a time.
    CosNaming::Name ctx_name;
    ctx_name.length(1);
    ctx_name[0].id = CORBA::string_dup("from_omniorb");
    ctx_name[0].kind = CORBA::string_dup("ctx");
    CosNaming::NamingContext_var ctx = root->bind_new_context(ctx_name);
    check(!CORBA::is_nil(ctx), "bind_new_context");
    try {
      root->bind_new_context(ctx_name);
      check(false, "AlreadyBound");
    } catch (const CosNaming::NamingContext::AlreadyBound&) {
      check(true, "AlreadyBound");
    }
    const char* ids[] = {"one", "two", "three"};
    for (int i = 0; i < 3; ++i) {
      CosNaming::Name n;
      n.length(1);
      n[0].id = CORBA::string_dup(ids[i]);
      n[0].kind = CORBA::string_dup("obj");
      ctx->rebind(n, echo.in());
    }
    CosNaming::BindingList_var first;
    CosNaming::BindingIterator_var it;
    ctx->list(1, first.out(), it.out());
    CORBA::ULong total = first->length();
    bool have_iterator = !CORBA::is_nil(it);
    if (have_iterator) {
      CosNaming::Binding_var b;
      while (it->next_one(b.out())) ++total;
      it->destroy();
    }
    check(have_iterator && total == 3, "list with a binding iterator");

    CosNaming::Name missing;
    missing.length(2);
    missing[0].id = CORBA::string_dup("from_omniorb");
    missing[0].kind = CORBA::string_dup("ctx");
    missing[1].id = CORBA::string_dup("four");
    missing[1].kind = CORBA::string_dup("");
    try {
      root->resolve(missing);
      check(false, "NotFound");
    } catch (const CosNaming::NamingContext::NotFound& e) {
      check(e.why == CosNaming::NamingContext::missing_node && e.rest_of_name.length() == 1 &&
                std::string(e.rest_of_name[0].id.in()) == "four",
            "NotFound");
    }
    CosNaming::Name two;
    two.length(1);
    two[0].id = CORBA::string_dup("two");
    two[0].kind = CORBA::string_dup("obj");
    ctx->unbind(two);
    check(true, "unbind");
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
