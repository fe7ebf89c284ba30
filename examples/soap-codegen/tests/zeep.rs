//! python zeep, a client nobody here wrote, loads the `?wsdl` of the
//! services implemented with the generated traits and calls them: values
//! come back, and the declared fault arrives with its detail. A missing
//! zeep fails the test (run `scripts/install-test-deps.sh`).

#![allow(clippy::unwrap_used)]

mod support;

use support::Served;

const ZEEP_SCRIPT: &str = r#"
import os, sys, base64
import zeep
from zeep.exceptions import Fault

base = os.environ["ITHACA_BASE"]
echo = zeep.Client(base + "/services/EchoService?wsdl")
for port in ("EchoSoap11Port", "EchoSoap12Port"):
    text = echo.bind("EchoService", port).echo(text="hé <&>", times=3)
    if text != "hé <&>" * 3:
        sys.exit(f"{port}: got {text!r}")
    print(f"{port}: ok")

orders = zeep.Client(base + "/services/OrderService?wsdl")
service = orders.bind("OrderService", "OrdersSoap11Port")
def order(skus):
    return dict(
        orderId=7,
        placed="2026-11-24T03:00:00Z",
        customer={"id": 42, "name": "Zed", "address": {"street": "s", "city": "Ithaca"}},
        line=[{"lineNo": i + 1, "sku": s, "quantity": 3, "unitPrice": "1.25", "note": None} for i, s in enumerate(skus)],
        iban="DE00",
        status="pending",
        weight=1.5,
    )
result = service.placeOrder(**{k: v for k, v in order(["pen"]).items()})
if (result.orderId, result.status, str(result.total), result.lines) != (7, "pending", "3.75", 1):
    sys.exit(f"placeOrder returned {result!r}")
if "Zed for Ithaca (42)" not in result.summary or "iban DE00" not in result.summary or "nil" not in result.summary:
    sys.exit(f"summary {result.summary!r}")
print("placeOrder: ok")
try:
    service.placeOrder(**order(["gone"]))
    sys.exit("no fault for an order of gone")
except Fault as fault:
    codes = [e.text for e in fault.detail.iter() if e.tag.endswith("}code")]
    skus = [e.text for e in fault.detail.iter() if e.tag.endswith("}sku")]
    if fault.message != "out of stock" or codes != ["409"] or skus != ["gone"]:
        sys.exit(f"unexpected fault {fault.message!r} {codes!r} {skus!r}")
print("fault: ok")

calculator = zeep.Client(base + "/services/CalculatorService?wsdl")
if calculator.service.add(a=40, b=2) != 42:
    sys.exit("add")
if calculator.service.norm(point={"x": -3, "y": 4}) != 7:
    sys.exit("norm")
calculator.service.record(note="from zeep")
if calculator.service.lastNote() != "from zeep":
    sys.exit("record/lastNote")
print("rpc: ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn zeep_calls_the_generated_services() {
    let served = Served::start().await;
    let (stdout, stderr) = served.run_python("zeep", ZEEP_SCRIPT).await;
    for line in [
        "EchoSoap11Port: ok",
        "EchoSoap12Port: ok",
        "placeOrder: ok",
        "fault: ok",
        "rpc: ok",
    ] {
        assert!(stdout.contains(line), "{stdout}\n{stderr}");
    }
    served.stop().await;
}
