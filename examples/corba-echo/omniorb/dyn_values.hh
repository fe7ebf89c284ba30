// Values of Dyn.idl shared by dyn_client.cc and dyn_server.cc: the Bag
// both sides exchange (the Rust tests build the same one) and comparisons.
#ifndef DYN_VALUES_HH
#define DYN_VALUES_HH
#include "Dyn.hh"
#include <cstring>

static Dyn::Point point(CORBA::Long x, CORBA::Long y, const char* label) {
  Dyn::Point p;
  p.x = x;
  p.y = y;
  p.label = CORBA::string_dup(label);
  return p;
}

static bool same_point(const Dyn::Point& a, const Dyn::Point& b) {
  return a.x == b.x && a.y == b.y && std::strcmp(a.label.in(), b.label.in()) == 0;
}

static bool same_points(const Dyn::Points& a, const Dyn::Points& b) {
  if (a.length() != b.length()) return false;
  for (CORBA::ULong i = 0; i < a.length(); ++i)
    if (!same_point(a[i], b[i])) return false;
  return true;
}

static bool same_node(const Dyn::Node& a, const Dyn::Node& b) {
  if (std::strcmp(a.label.in(), b.label.in()) != 0 || a.kids.length() != b.kids.length()) return false;
  for (CORBA::ULong i = 0; i < a.kids.length(); ++i)
    if (!same_node(a.kids[i], b.kids[i])) return false;
  return true;
}

// The Bag both sides expect (tests/dynamic.rs builds the same value).
static Dyn::Bag make_bag() {
  Dyn::Bag b;
  b.s = -3;
  b.us = 65535;
  b.l = -70000;
  b.ul = 4000000000u;
  b.ll = -(CORBA::LongLong(1) << 40);
  b.ull = CORBA::ULongLong(1) << 63;
  b.f = 1.25f;
  b.d = -2.5e100;
  b.b = true;
  b.c = 'Z';
  b.wc = 0x20AC;  // euro sign
  b.o = 0xfe;
  b.str = CORBA::string_dup("h\xe9llo");  // ISO-8859-1 e acute
  CORBA::WChar wide[] = {0x65E5, 0x672C, 0x8A9E, 0x20, 0x77, 0};
  b.wstr = CORBA::wstring_dup(wide);
  b.cash = Dyn::Money(CORBA::Fixed("-12345678.0125"));
  b.hue = Dyn::blue;
  b.pts.length(2);
  b.pts[0] = point(1, 2, "a");
  b.pts[1] = point(3, 4, "");
  b.lists.length(2);
  b.lists[0].length(1);
  b.lists[0][0] = point(5, 6, "deep");
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) b.grd[i][j] = CORBA::Short(i * 3 + j + 1);
  b.shp.corner(point(7, 8, "corner"));
  b.shp._d(Dyn::green);
  Dyn::Point inside = point(9, 10, "in any");
  CORBA::Any payload;
  payload <<= inside;
  b.tag.payload(payload);
  b.a <<= CORBA::Double(0.5);
  b.blob.length(3);
  b.blob[0] = 0;
  b.blob[1] = 1;
  b.blob[2] = 2;
  b.few.length(2);
  b.few[0] = 1;
  b.few[1] = 2;
  return b;
}

static bool same_bag(const Dyn::Bag& x, const Dyn::Bag& y) {
  bool ok = x.s == y.s && x.us == y.us && x.l == y.l && x.ul == y.ul && x.ll == y.ll && x.ull == y.ull &&
            x.f == y.f && x.d == y.d && x.b == y.b && x.c == y.c && x.wc == y.wc && x.o == y.o &&
            std::strcmp(x.str.in(), y.str.in()) == 0 && x.cash == y.cash && x.hue == y.hue &&
            same_points(x.pts, y.pts) && x.lists.length() == y.lists.length() && x.blob.length() == y.blob.length() &&
            x.few.length() == y.few.length();
  const CORBA::WChar* a = x.wstr.in();
  const CORBA::WChar* b = y.wstr.in();
  while (*a && *a == *b) { ++a; ++b; }
  ok = ok && *a == *b;
  for (CORBA::ULong i = 0; ok && i < x.lists.length(); ++i) ok = same_points(x.lists[i], y.lists[i]);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) ok = ok && x.grd[i][j] == y.grd[i][j];
  ok = ok && x.shp._d() == y.shp._d() && same_point(x.shp.corner(), y.shp.corner());
  const Dyn::Point* p = 0;
  ok = ok && y.tag._d() == 3 && (y.tag.payload() >>= p) && p && same_point(*p, point(9, 10, "in any"));
  CORBA::Double d = 0;
  ok = ok && (y.a >>= d) && d == 0.5;
  for (CORBA::ULong i = 0; ok && i < x.blob.length(); ++i) ok = x.blob[i] == y.blob[i];
  for (CORBA::ULong i = 0; ok && i < x.few.length(); ++i) ok = x.few[i] == y.few[i];
  return ok;
}

#endif
