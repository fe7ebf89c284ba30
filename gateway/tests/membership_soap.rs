//! The SOAP `MembershipService` called by zeep (a client nobody here
//! wrote): a Python member joins, heartbeats and gets a lease, reads the
//! view, long-polls for a newer one and leaves; a stale join is a fault.
//! The gateway runs in-process with the in-memory test consensus behind
//! the oracle node runtime.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use ithaca_gateway::config::MembershipConfig;
use ithaca_gateway::membership::MembershipHost;
use ithaca_membership::consensus::Consensus;
use ithaca_membership::node::in_memory::InMemoryConsensus;
use support::TestGateway;

const ZEEP_SCRIPT: &str = r#"
import os, sys, zeep
from zeep.exceptions import Fault

base = os.environ["ITHACA_BASE"]
client = zeep.Client(base + "/services/MembershipService?wsdl")
s = client.service

def view_of(answer):
    return getattr(answer, "view", None) or answer

view = view_of(s.Join(member="py-1", incarnation=1, address="py.test:9000", role=["atc"]))
if view.viewId != 1 or view.member[0].member != "py-1" or view.service[0].primary != "py-1":
    sys.exit(f"join: {view!r}")
print("zeep join: ok")

beat = s.Heartbeat(member="py-1", incarnation=1, seenViewId=view.viewId)
if beat.status != "granted" or beat.leaseMs != 2000 or beat.viewId != 1:
    sys.exit(f"heartbeat: {beat!r}")
print("zeep heartbeat: ok")

stranger = s.Heartbeat(member="ghost", incarnation=1, seenViewId=0)
if stranger.status != "not-member" or stranger.leaseMs != 0:
    sys.exit(f"stranger: {stranger!r}")
print("zeep stranger: ok")

view = view_of(s.GetView())
if view.viewId != 1 or view.member[0].address != "py.test:9000":
    sys.exit(f"get view: {view!r}")
print("zeep get view: ok")

# Nothing newer: the long poll ends at its timeout with the current view.
view = view_of(s.WatchView(knownViewId=1, timeoutMs=200))
if view.viewId != 1:
    sys.exit(f"watch: {view!r}")
print("zeep watch: ok")

try:
    s.Join(member="py-1", incarnation=1, address="elsewhere:1", role=[])
    sys.exit("a stale join was accepted")
except Fault as fault:
    if "stale" not in fault.message:
        sys.exit(f"stale join fault: {fault.message}")
print("zeep stale join: ok")

left = s.Leave(member="py-1", incarnation=1)
if left != 2:
    sys.exit(f"leave: {left!r}")
print("zeep leave: ok")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeep_joins_heartbeats_reads_and_leaves() {
    let consensus = Arc::new(InMemoryConsensus::new());
    let host = MembershipHost::with_consensus(
        &MembershipConfig::default(),
        consensus.clone() as Arc<dyn Consensus>,
    )
    .await
    .unwrap();
    let routes = host.soap_routes(None).unwrap().merge(&host.routes());
    let gateway = TestGateway::start(routes, |_| {}).await;

    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(ZEEP_SCRIPT)
        .env("ITHACA_BASE", format!("http://{}", gateway.addr()))
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "zeep failed:\n{text}");
    for line in [
        "zeep join: ok",
        "zeep heartbeat: ok",
        "zeep stranger: ok",
        "zeep get view: ok",
        "zeep watch: ok",
        "zeep stale join: ok",
        "zeep leave: ok",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(consensus.view().members().is_empty());
    assert_eq!(consensus.view().id().0, 2);
    gateway.gateway.shutdown().await;
    host.shutdown().await;
}
