// Values of Rich.idl shared by rich_client.cc and rich_server.cc: the Record
// both sides exchange (sample_record() in src/lib.rs builds the same one)
// and comparisons.
#ifndef RICH_VALUES_HH
#define RICH_VALUES_HH
#include "Rich.hh"
#include <cstring>

static Rich::Point pt(CORBA::Long x, CORBA::Long y) {
  Rich::Point p;
  p.x = x;
  p.y = y;
  return p;
}

static bool same_pt(const Rich::Point& a, const Rich::Point& b) { return a.x == b.x && a.y == b.y; }

static Rich::Record make_record() {
  Rich::Record r;
  r.s = -3;
  r.us = 65535;
  r.l = -70000;
  r.ul = 4000000000u;
  r.ll = -(CORBA::LongLong(1) << 40);
  r.ull = CORBA::ULongLong(1) << 63;
  r.f = 1.25f;
  r.d = -2.5e100;
  r.b = true;
  r.c = 'Z';
  r.o = 0xfe;
  r.text = CORBA::string_dup("h\xe9llo");  // ISO-8859-1 e acute
  r.tag = CORBA::string_dup("short");
  r.feeling = Rich::busy;
  r.pts.length(2);
  r.pts[0] = pt(1, 2);
  r.pts[1] = pt(3, 4);
  r.rows.length(2);
  r.rows[0].length(1);
  r.rows[0][0] = pt(5, 6);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) r.cells[i][j] = i * 3 + j + 1;
  r.few.length(2);
  r.few[0] = 7;
  r.few[1] = 8;
  r.blob.length(3);
  for (CORBA::ULong i = 0; i < 3; ++i) r.blob[i] = i;
  r.outline.at(pt(9, 10));
  r.outline._d(Rich::calm);
  r.val.flag(true);
  r.val._d(42);
  r.opt.some(pt(11, 12));
  r.extra <<= CORBA::Double(0.5);
  return r;
}

static bool same_record(const Rich::Record& x, const Rich::Record& y) {
  bool ok = x.s == y.s && x.us == y.us && x.l == y.l && x.ul == y.ul && x.ll == y.ll && x.ull == y.ull &&
            x.f == y.f && x.d == y.d && x.b == y.b && x.c == y.c && x.o == y.o &&
            std::strcmp(x.text.in(), y.text.in()) == 0 && std::strcmp(x.tag.in(), y.tag.in()) == 0 &&
            x.feeling == y.feeling && x.pts.length() == y.pts.length() &&
            x.rows.length() == y.rows.length() && x.few.length() == y.few.length() &&
            x.blob.length() == y.blob.length();
  for (CORBA::ULong i = 0; ok && i < x.pts.length(); ++i) ok = same_pt(x.pts[i], y.pts[i]);
  for (CORBA::ULong i = 0; ok && i < x.rows.length(); ++i) {
    ok = x.rows[i].length() == y.rows[i].length();
    for (CORBA::ULong j = 0; ok && j < x.rows[i].length(); ++j) ok = same_pt(x.rows[i][j], y.rows[i][j]);
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) ok = ok && x.cells[i][j] == y.cells[i][j];
  for (CORBA::ULong i = 0; ok && i < x.few.length(); ++i) ok = x.few[i] == y.few[i];
  for (CORBA::ULong i = 0; ok && i < x.blob.length(); ++i) ok = x.blob[i] == y.blob[i];
  ok = ok && x.outline._d() == y.outline._d();
  if (ok && x.outline._d() == Rich::away)
    ok = std::strcmp(x.outline.note(), y.outline.note()) == 0;
  else if (ok)
    ok = same_pt(x.outline.at(), y.outline.at());
  ok = ok && x.val._d() == y.val._d();
  if (ok) {
    switch (x.val._d()) {
      case 1: ok = x.val.small() == y.val.small(); break;
      case 2: case 3: ok = x.val.big() == y.val.big(); break;
      case 4: ok = std::strcmp(x.val.name(), y.val.name()) == 0; break;
      default: ok = x.val.flag() == y.val.flag();
    }
  }
  ok = ok && x.opt._d() == y.opt._d() && (!x.opt._d() || same_pt(x.opt.some(), y.opt.some()));
  CORBA::Double a = 0, b = 1;
  ok = ok && (x.extra >>= a) && (y.extra >>= b) && a == b;
  return ok;
}

#endif
