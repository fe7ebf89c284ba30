//! Generated CDR codecs against the dynamic (TypeCode-driven) codec and a
//! hand-written codec like `examples/corba-echo`'s: encoding and decoding
//! an `Order` (sequences, a union, an array, an enum) and 100 `Point`s.
//!
//! `codegen/generated.rs` is what `ithaca idl codegen` emits for the IDL in
//! `src/codegen/tests.rs` (a unit test keeps the two in step).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, criterion_group, criterion_main};
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::{ByteOrder, CdrReader, CdrWriter};
use ithaca_idl::codegen::runtime::{CdrDecode, CdrEncode};
use ithaca_idl::dynamic::{self, TypeCode, Value};

#[allow(dead_code, unreachable_pub, clippy::manual_range_patterns)]
// Kept exactly as generated (a unit test compares it with the generator).
#[rustfmt::skip]
#[path = "codegen/generated.rs"]
mod generated;

use generated::bench_codegen::{Kind, Order, Point, Tag};

const IDL: &str = "module BenchCodegen {
  enum Kind { small, large };
  struct Point { long x; long y; string label; };
  typedef sequence<Point> Points;
  union Tag switch (Kind) { case small: long n; case large: string text; };
  struct Order {
    unsigned long long id; string customer; Kind category; double total;
    Points path; sequence<octet> note; long grid[2][3]; Tag marker; boolean paid;
  };
};";

fn points(n: i32) -> Vec<Point> {
    (0..n)
        .map(|i| Point {
            x: i,
            y: -i,
            label: format!("point {i}"),
        })
        .collect()
}

fn order() -> Order {
    Order {
        id: 1 << 40,
        customer: "Ada Lovelace".into(),
        category: Kind::Large,
        total: 1234.5,
        path: points(10),
        note: vec![7; 64],
        grid: [[1, 2, 3], [4, 5, 6]],
        marker: Tag::Text("express".into()),
        paid: true,
    }
}

fn point_value(p: &Point) -> Value {
    Value::Struct(vec![
        ("x".into(), Value::Long(p.x)),
        ("y".into(), Value::Long(p.y)),
        ("label".into(), Value::String(p.label.clone())),
    ])
}

fn order_value(o: &Order) -> Value {
    Value::Struct(vec![
        ("id".into(), Value::ULongLong(o.id)),
        ("customer".into(), Value::String(o.customer.clone())),
        ("category".into(), Value::Enum(1)),
        ("total".into(), Value::Double(o.total)),
        (
            "path".into(),
            Value::Sequence(o.path.iter().map(point_value).collect()),
        ),
        ("note".into(), Value::Octets(o.note.clone().into())),
        (
            "grid".into(),
            Value::Array(
                o.grid
                    .iter()
                    .map(|row| Value::Array(row.iter().map(|v| Value::Long(*v)).collect()))
                    .collect(),
            ),
        ),
        (
            "marker".into(),
            Value::Union {
                discriminator: Box::new(Value::Enum(1)),
                member: Some(Box::new(Value::String("express".into()))),
            },
        ),
        ("paid".into(), Value::Boolean(o.paid)),
    ])
}

/// The hand-written codec of `examples/corba-echo` (its `Point`).
fn write_points_by_hand(w: &mut CdrWriter<'_>, points: &[Point]) -> ithaca_idl::Result<()> {
    w.write_length(points.len())?;
    for p in points {
        w.write_long(p.x);
        w.write_long(p.y);
        w.write_string(&p.label)?;
    }
    Ok(())
}

fn read_points_by_hand(r: &mut CdrReader) -> ithaca_idl::Result<Vec<Point>> {
    let len = r.read_length(12)?;
    let mut points = Vec::with_capacity(len);
    for _ in 0..len {
        points.push(Point {
            x: r.read_long()?,
            y: r.read_long()?,
            label: r.read_string()?,
        });
    }
    Ok(points)
}

fn writer(buf: &mut BytesMut) -> CdrWriter<'_> {
    CdrWriter::new(buf, ByteOrder::LittleEndian, GiopVersion::V1_2)
}

fn reader(bytes: &bytes::Bytes) -> CdrReader {
    CdrReader::new(bytes.clone(), ByteOrder::LittleEndian, GiopVersion::V1_2)
}

fn bench(c: &mut Criterion) {
    let model = ithaca_idl::front::analyze_str(IDL).model;
    let order_tc = TypeCode::from_model(&model, "BenchCodegen::Order").unwrap();
    let order = order();
    let value = order_value(&order);
    let mut buf = BytesMut::new();
    order.encode(&mut writer(&mut buf)).unwrap();
    let order_bytes = buf.split().freeze();
    // The two codecs agree on the bytes.
    dynamic::encode(&order_tc, &value, &mut writer(&mut buf)).unwrap();
    assert_eq!(buf.split().freeze(), order_bytes);

    let mut group = c.benchmark_group("codegen order");
    group.bench_function("encode generated", |b| {
        b.iter(|| {
            black_box(&order).encode(&mut writer(&mut buf)).unwrap();
            buf.clear();
        })
    });
    group.bench_function("encode dynamic", |b| {
        b.iter(|| {
            dynamic::encode(&order_tc, black_box(&value), &mut writer(&mut buf)).unwrap();
            buf.clear();
        })
    });
    group.bench_function("decode generated", |b| {
        b.iter(|| Order::decode(&mut reader(black_box(&order_bytes))).unwrap())
    });
    group.bench_function("decode dynamic", |b| {
        b.iter(|| dynamic::decode(&order_tc, &mut reader(black_box(&order_bytes))).unwrap())
    });
    group.finish();

    let points = points(100);
    let mut points_buf = BytesMut::new();
    write_points_by_hand(&mut writer(&mut points_buf), &points).unwrap();
    let points_bytes = points_buf.freeze();
    let mut group = c.benchmark_group("codegen 100 points");
    group.bench_function("encode generated", |b| {
        b.iter(|| {
            let mut w = writer(&mut buf);
            w.write_length(points.len()).unwrap();
            for p in black_box(&points) {
                p.encode(&mut w).unwrap();
            }
            buf.clear();
        })
    });
    group.bench_function("encode by hand", |b| {
        b.iter(|| {
            write_points_by_hand(&mut writer(&mut buf), black_box(&points)).unwrap();
            buf.clear();
        })
    });
    group.bench_function("decode generated", |b| {
        b.iter(|| {
            let mut r = reader(black_box(&points_bytes));
            r.read_sequence(12, Point::decode).unwrap()
        })
    });
    group.bench_function("decode by hand", |b| {
        b.iter(|| read_points_by_hand(&mut reader(black_box(&points_bytes))).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
