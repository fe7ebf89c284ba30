// Shared by value_client.cc and value_server.cc: the value factories of
// Values.idl, registered with the ORB.
#include "Values.hh"

static void register_factories(CORBA::ORB_ptr orb) {
  CORBA::ValueFactoryBase* f;
  f = new Vals::Node_init();
  orb->register_value_factory(Vals::Node::_PD_repoId, f);
  f->_remove_ref();
  f = new Vals::Base_init();
  orb->register_value_factory(Vals::Base::_PD_repoId, f);
  f->_remove_ref();
  f = new Vals::Derived_init();
  orb->register_value_factory(Vals::Derived::_PD_repoId, f);
  f->_remove_ref();
  f = new Vals::Plain_init();
  orb->register_value_factory(Vals::Plain::_PD_repoId, f);
  f->_remove_ref();
  f = new Vals::Extra_init();
  orb->register_value_factory(Vals::Extra::_PD_repoId, f);
  f->_remove_ref();
}

static Vals::Label* label(const char* text) { return new Vals::Label(text); }

// A node; the setters take references of their own (the constructor with
// members would consume the caller's).
static Vals::Node* make_node(CORBA::Long n, Vals::Node* next, Vals::Label* name) {
  Vals::Node* node = new OBV_Vals::Node();
  node->n(n);
  node->next(next);
  node->name(name);
  return node;
}

// n -> next -> ..., each with a label, `count` nodes.
static Vals::Node* chain(CORBA::Long first, int count) {
  Vals::Node_var head;
  for (int i = count - 1; i >= 0; --i) {
    Vals::Label_var name = label(i % 2 ? "odd" : "even");
    head = make_node(first + i, head.in(), name.in());
  }
  return head._retn();
}

// The most derived type of a Base, by name.
static const char* kind(Vals::Base* b) {
  if (!b) return "null";
  if (Vals::Derived::_downcast(b)) return "Derived";
  if (Vals::Plain::_downcast(b)) return "Plain";
  if (Vals::Extra::_downcast(b)) return "Extra";
  return "Base";
}
