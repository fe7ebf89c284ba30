"""suds-community against Ithaca's rich contract (gateway/tests/fixtures/rich/rich.wsdl).

Run by gateway/tests/soap_rich.rs with ITHACA_BASE=http://HOST:PORT. suds
speaks SOAP 1.1 only, so it calls the two SOAP 1.1 ports (document/literal
wrapped and rpc/literal), checks every value received, and prints
`PORT CASE: ok` per case (or `PORT CASE: FAILED ...` and exits 1).
"""

import os
import sys
import traceback
from decimal import Decimal

from suds import WebFault
from suds.client import Client

NS = "urn:ithaca:test:rich"
base = os.environ["ITHACA_BASE"]
client = Client(base + "/services/RichService?wsdl", cache=None)
create = client.factory.create


def check(label, got, want):
    if got != want:
        raise AssertionError(f"{label}: expected {want!r}, got {got!r}")


def address(street, city, country, zip=None):
    a = create(f"{{{NS}}}Address")
    a.street, a.city, a._country = street, city, country
    if zip is not None:
        a.zip = zip
    return a


def line(sku, quantity, price, gift=None):
    item = create(f"{{{NS}}}Line")
    item.sku, item.quantity, item.unitPrice = sku, quantity, price
    if gift is not None:
        item._gift = gift
    return item


def company_order(second_quantity=2):
    order = create(f"{{{NS}}}Order")
    order._currency = "EUR"
    order.id = "A-17"
    order.priority = "high"
    customer = create(f"{{{NS}}}Company")
    customer.name, customer.vatId = "Acme & Sons <Ltd>", "DE123"
    order.customer = customer
    order.contact.phone = "+49 30 1234"
    order.shipTo = address("1 Main St", "Zürich", "CH")
    order.billTo = address("2 Side St", "Bern", "CH", zip="3000")
    order.lines.line = [line("pen", 3, "1.25", gift="true"), line("ink", second_quantity, "4.10")]
    order.tag = ["rush", "fragile"]
    order.note = None
    return order


def person_order():
    order = create(f"{{{NS}}}Order")
    order._currency = "NOK"
    order.id = "B-2"
    order.priority = "low"
    customer = create(f"{{{NS}}}Person")
    customer.name, customer.birthYear = "Ada", 1970
    order.customer = customer
    order.contact.email = "ada@example.org"
    order.shipTo = address("Storgata 1", "Oslo", "NO", zip="0155")
    order.billTo = None
    order.lines.line = [line("book", 1, "12.5")]
    order.note = "leave at door"
    return order


def submit_company():
    r = client.service.submitOrder(company_order())
    check("orderId", r.orderId, "A-17")
    check("currency", r._currency, "EUR")
    check("priority", r.priority, "high")
    check("customer xsi:type", r.customer.__class__.__name__, "Company")
    check("customer.name", r.customer.name, "Acme & Sons <Ltd>")
    check("customer.vatId", r.customer.vatId, "DE123")
    check("customerKind", r.customerKind, "Company")
    check("contactKind", r.contactKind, "phone")
    check("shipTo", (r.shipTo.street, r.shipTo.city, getattr(r.shipTo, "zip", None), r.shipTo._country),
          ("1 Main St", "Zürich", None, "CH"))
    check("billTo", (r.billTo.city, r.billTo.zip, r.billTo._country), ("Bern", "3000", "CH"))
    check("lineCount", r.lineCount, 2)
    check("giftLines", r.giftLines, 1)
    check("total", Decimal(r.total), Decimal("11.95"))
    check("tag", r.tag, ["RUSH", "FRAGILE"])
    check("note", r.note, None)


def submit_person():
    r = client.service.submitOrder(person_order())
    check("customer xsi:type", r.customer.__class__.__name__, "Person")
    check("customer.birthYear", r.customer.birthYear, 1970)
    check("customerKind", r.customerKind, "Person")
    check("contactKind", r.contactKind, "email")
    check("priority", r.priority, "low")
    check("billTo", getattr(r, "billTo", None), None)
    check("lineCount", r.lineCount, 1)
    check("total", Decimal(r.total), Decimal("12.50"))
    check("tag", getattr(r, "tag", []), [])
    check("note", r.note, "leave at door")


def submit_fault():
    try:
        client.service.submitOrder(company_order(second_quantity=0))
    except WebFault as error:
        fault = error.fault
        check("faultstring", fault.faultstring, "line 2: quantity must be positive")
        detail = fault.detail.orderRejected
        check("detail", (detail.orderId, detail.lineNumber, detail.problem),
              ("A-17", "2", "quantity must be positive"))
        return
    raise AssertionError("no fault for a line of quantity 0")


def track_header():
    session = create(f"{{{NS}}}Session")
    session.user, session.ticket = "alice", 41
    client.set_options(soapheaders={"session": session})
    try:
        r = client.service.track("A-17")
    finally:
        client.set_options(soapheaders=())
    check("track", (r.orderId, r.user, r.nextTicket), ("A-17", "alice", 42))
    # suds returns the body; the output header is read from the reply.
    tracking = client.last_received().childAtPath("Envelope/Header/tracking")
    if tracking is None:
        raise AssertionError(f"no tracking header in {client.last_received()}")
    check("tracking header",
          (tracking.getChild("code").getText(), tracking.getChild("hops").getText()),
          ("A-17/alice", "82"))


def track_header_fault():
    session = create(f"{{{NS}}}Session")
    session.user, session.ticket = "alice", -1
    client.set_options(soapheaders={"session": session})
    try:
        client.service.track("A-17")
    except WebFault as error:
        fault = error.fault
        check("faultstring", fault.faultstring, "the session ticket is negative")
        check("faultcode", fault.faultcode.split(":")[-1], "Client")
        check("detail", getattr(fault, "detail", None), None)
        # The declared soap:headerfault block is in the fault's Header.
        refused = error.document.childAtPath("Envelope/Header/trackingRefused")
        if refused is None:
            raise AssertionError(f"no trackingRefused header in {error.document}")
        check("header fault", refused.getChild("reason").getText(),
              "ticket -1 of alice is negative")
        return
    finally:
        client.set_options(soapheaders=())
    raise AssertionError("no fault for a negative ticket")


def quote():
    r = client.service.quote("pen", 4, address("Storgata 1", "Oslo", "NO"), "high")
    check("total", Decimal(r.total), Decimal("10.00"))
    check("summary", (r.summary.text, r.summary.express, r.summary._country),
          ("4 x pen to Oslo", True, "NO"))


def quote_fault():
    try:
        client.service.quote("pen", 1000, address("s", "c", "NO"), "low")
    except WebFault as error:
        fault = error.fault
        check("faultstring", fault.faultstring, "at most 999 per quote")
        detail = fault.detail.quoteRefused
        check("detail", (detail.sku, detail.maxQuantity), ("pen", "999"))
        return
    raise AssertionError("no fault for a quantity of 1000")


cases = [
    ("RichSoap11Port", "submitOrder company", submit_company),
    ("RichSoap11Port", "submitOrder person", submit_person),
    ("RichSoap11Port", "submitOrder fault", submit_fault),
    ("RichSoap11Port", "track header", track_header),
    ("RichSoap11Port", "track header fault", track_header_fault),
    ("RichRpcSoap11Port", "quote", quote),
    ("RichRpcSoap11Port", "quote fault", quote_fault),
]

failed = False
for port, case, run in cases:
    client.set_options(port=port)
    try:
        run()
        print(f"{port} {case}: ok", flush=True)
    except Exception as error:  # report every case, then fail
        failed = True
        print(f"{port} {case}: FAILED {error!r}", flush=True)
        traceback.print_exc()
        print(client.last_sent(), file=sys.stderr)
        print(client.last_received(), file=sys.stderr)
sys.exit(1 if failed else 0)
