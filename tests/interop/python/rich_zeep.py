"""zeep against Ithaca's rich contract (gateway/tests/fixtures/rich/rich.wsdl).

Run by gateway/tests/soap_rich.rs with ITHACA_BASE=http://HOST:PORT. Calls
every operation on every port (document/literal wrapped and rpc/literal,
SOAP 1.1 and 1.2), checks every value received, and prints
`PORT CASE: ok` per case (or `PORT CASE: FAILED ...` and exits 1).
"""

import os
import sys
import traceback
from decimal import Decimal

import zeep
from zeep.exceptions import Fault
from zeep.plugins import HistoryPlugin

NS = "urn:ithaca:test:rich"
base = os.environ["ITHACA_BASE"]
# The history keeps the last envelope received: a header fault's block is
# in the fault's Header, which zeep's Fault does not carry.
history = HistoryPlugin()
client = zeep.Client(base + "/services/RichService?wsdl", plugins=[history])
Company = client.get_type(f"{{{NS}}}Company")
Person = client.get_type(f"{{{NS}}}Person")
Address = client.get_type(f"{{{NS}}}Address")
Line = client.get_type(f"{{{NS}}}Line")
OrderRejected = client.get_element(f"{{{NS}}}orderRejected")
QuoteRefused = client.get_element(f"{{{NS}}}quoteRefused")
TrackingRefused = client.get_element(f"{{{NS}}}trackingRefused")


def check(label, got, want):
    if got != want:
        raise AssertionError(f"{label}: expected {want!r}, got {got!r}")


def company_order(second_quantity=2):
    return dict(
        id="A-17",
        currency="EUR",
        priority="high",
        customer=Company(name="Acme & Sons <Ltd>", vatId="DE123"),
        contact={"phone": "+49 30 1234"},
        shipTo=Address(street="1 Main St", city="Zürich", country="CH"),
        billTo=Address(street="2 Side St", city="Bern", zip="3000", country="CH"),
        lines={
            "line": [
                Line(sku="pen", quantity=3, unitPrice=Decimal("1.25"), gift=True),
                Line(sku="ink", quantity=second_quantity, unitPrice=Decimal("4.10")),
            ]
        },
        tag=["rush", "fragile"],
        note=None,
    )


def person_order():
    return dict(
        id="B-2",
        currency="NOK",
        priority="low",
        customer=Person(name="Ada", birthYear=1970),
        contact={"email": "ada@example.org"},
        shipTo=Address(street="Storgata 1", city="Oslo", zip="0155", country="NO"),
        lines={"line": [Line(sku="book", quantity=1, unitPrice=Decimal("12.5"))]},
        note="leave at door",
    )


def submit_company(service):
    r = service.submitOrder(order=company_order())
    check("orderId", r.orderId, "A-17")
    check("currency", r.currency, "EUR")
    check("priority", r.priority, "high")
    check("customer xsi:type", type(r.customer).__name__, "Company")
    check("customer.name", r.customer.name, "Acme & Sons <Ltd>")
    check("customer.vatId", r.customer.vatId, "DE123")
    check("customerKind", r.customerKind, "Company")
    check("contactKind", r.contactKind, "phone")
    check("shipTo", (r.shipTo.street, r.shipTo.city, r.shipTo.zip, r.shipTo.country),
          ("1 Main St", "Zürich", None, "CH"))
    check("billTo", (r.billTo.city, r.billTo.zip, r.billTo.country), ("Bern", "3000", "CH"))
    check("lineCount", r.lineCount, 2)
    check("giftLines", r.giftLines, 1)
    check("total", r.total, Decimal("11.95"))
    check("tag", r.tag, ["RUSH", "FRAGILE"])
    check("note", r.note, None)


def submit_person(service):
    r = service.submitOrder(order=person_order())
    check("customer xsi:type", type(r.customer).__name__, "Person")
    check("customer.birthYear", r.customer.birthYear, 1970)
    check("customerKind", r.customerKind, "Person")
    check("contactKind", r.contactKind, "email")
    check("priority", r.priority, "low")
    check("billTo", r.billTo, None)
    check("lineCount", r.lineCount, 1)
    check("total", r.total, Decimal("12.50"))
    check("tag", r.tag, [])
    check("note", r.note, "leave at door")


def submit_many_lines(service):
    order = person_order()
    count = 1000
    order["lines"] = {
        "line": [Line(sku=f"sku-{i}", quantity=i % 7 + 1, unitPrice=Decimal("0.05"), gift=i % 2 == 0)
                 for i in range(count)]
    }
    order["tag"] = [f"t{i}" for i in range(50)]
    r = service.submitOrder(order=order)
    check("lineCount", r.lineCount, count)
    check("giftLines", r.giftLines, count // 2)
    check("total", r.total, sum(Decimal(i % 7 + 1) * Decimal("0.05") for i in range(count)))
    check("tag", r.tag, [f"T{i}" for i in range(50)])


def submit_fault(service):
    try:
        service.submitOrder(order=company_order(second_quantity=0))
    except Fault as fault:
        check("fault message", fault.message, "line 2: quantity must be positive")
        detail = OrderRejected.parse(fault.detail[0], client.wsdl.types)
        check("detail", (detail.orderId, detail.lineNumber, detail.problem),
              ("A-17", 2, "quantity must be positive"))
        return
    raise AssertionError("no fault for a line of quantity 0")


def track_header(service):
    r = service.track(orderId="A-17", _soapheaders={"session": {"user": "alice", "ticket": 41}})
    # An output soap:header makes zeep answer the whole envelope: the body
    # (the response element) and the header parts by element name.
    body = r.body
    check("track", (body.orderId, body.user, body.nextTicket), ("A-17", "alice", 42))
    tracking = r.header.tracking
    check("tracking header", (tracking.code, tracking.hops), ("A-17/alice", 82))


def track_header_fault(service):
    try:
        service.track(orderId="A-17", _soapheaders={"session": {"user": "alice", "ticket": -1}})
    except Fault as fault:
        check("fault message", fault.message, "the session ticket is negative")
        check("fault code", fault.code.split(":")[-1] in ("Client", "Sender"), True)
        check("fault detail", fault.detail, None)
        envelope = history.last_received["envelope"]
        env = envelope.tag[1:].split("}")[0]
        blocks = envelope.findall(f"{{{env}}}Header/{{{NS}}}trackingRefused")
        check("header fault blocks", len(blocks), 1)
        # The declared soap:headerfault element, parsed by the contract's type.
        refused = TrackingRefused.parse(blocks[0], client.wsdl.types)
        check("header fault", refused.reason, "ticket -1 of alice is negative")
        return
    raise AssertionError("no fault for a negative ticket")


def quote(service):
    r = service.quote(
        sku="pen",
        quantity=4,
        shipTo=Address(street="Storgata 1", city="Oslo", country="NO"),
        priority="high",
    )
    check("total", r.total, Decimal("10.00"))
    check("summary", (r.summary.text, r.summary.express, r.summary.country),
          ("4 x pen to Oslo", True, "NO"))


def quote_fault(service):
    try:
        service.quote(sku="pen", quantity=1000,
                      shipTo=Address(street="s", city="c", country="NO"), priority="low")
    except Fault as fault:
        check("fault message", fault.message, "at most 999 per quote")
        detail = QuoteRefused.parse(fault.detail[0], client.wsdl.types)
        check("detail", (detail.sku, detail.maxQuantity), ("pen", 999))
        return
    raise AssertionError("no fault for a quantity of 1000")


cases = []
for port in ("RichSoap11Port", "RichSoap12Port"):
    cases += [
        (port, "submitOrder company", submit_company),
        (port, "submitOrder person", submit_person),
        (port, "submitOrder 1000 lines", submit_many_lines),
        (port, "submitOrder fault", submit_fault),
        (port, "track header", track_header),
        (port, "track header fault", track_header_fault),
    ]
for port in ("RichRpcSoap11Port", "RichRpcSoap12Port"):
    cases += [(port, "quote", quote), (port, "quote fault", quote_fault)]

failed = False
for port, case, run in cases:
    try:
        run(client.bind("RichService", port))
        print(f"{port} {case}: ok", flush=True)
    except Exception as error:  # report every case, then fail
        failed = True
        print(f"{port} {case}: FAILED {error!r}", flush=True)
        traceback.print_exc()
sys.exit(1 if failed else 0)
