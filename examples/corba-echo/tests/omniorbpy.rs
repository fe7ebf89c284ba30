//! omniORBpy (`salome-omniorb` 4.2.5 from PyPI, in the interop venv that
//! `scripts/install-test-deps.sh` makes) as a second real client: it
//! calls Ithaca's Echo servant through the IOR Ithaca publishes (with
//! TAG_CODE_SETS) and through corbaloc: strings (non-Latin-1 ones in UTF-8
//! once code-set negotiation picked it, from either side's preference), a
//! struct sequence, a user exception, oneway and `_non_existent`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ithaca_corba_echo::{ECHO_KEY, ECHO_REPOSITORY_ID, echo_server};
use ithaca_idl::cdr::CharCodeSet;
use ithaca_idl::codeset::CodeSetPolicy;
use ithaca_idl::naming::{object_ior, object_ior_with_code_sets};

fn omniorb_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("omniorb")
}

/// The venv's Python, with omniORBpy importable.
fn python() -> PathBuf {
    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let check = Command::new(&python)
        .args(["-c", "import omniORB, omniidl"])
        .status()
        .unwrap();
    assert!(
        check.success(),
        "omniORBpy (salome-omniorb) is missing from the interop venv: run scripts/install-test-deps.sh"
    );
    python
}

/// Python stubs for IthacaBench.idl, made once with the omniidl that
/// salome-omniorb bundles (Debian's omniidl has no Python back end).
fn stubs() -> &'static Path {
    static STUBS: OnceLock<PathBuf> = OnceLock::new();
    STUBS.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("omniorbpy-stubs");
        std::fs::create_dir_all(&out).unwrap();
        let idl = omniorb_dir().join("IthacaBench.idl");
        let status = Command::new(python())
            .args([
                "-c",
                "import sys; from omniidl import main; sys.argv = ['omniidl'] + sys.argv[1:]; main.main()",
                "-bpython",
                "-C",
            ])
            .arg(&out)
            .arg(&idl)
            .status()
            .unwrap();
        assert!(status.success(), "omniidl -bpython failed");
        out
    })
}

async fn run_client(reference: String, options: &[&str]) -> (bool, String) {
    let options: Vec<String> = options.iter().map(|o| (*o).to_owned()).collect();
    let python = python();
    let stubs = stubs().to_owned();
    let script = omniorb_dir().join("py_client.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(stubs)
            .arg(reference)
            .args(options)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn omniorbpy_calls_an_ithaca_servant() {
    let (server, servant) = echo_server("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = server.local_addr();
    let ior = object_ior(ECHO_REPOSITORY_ID, "127.0.0.1", addr.port(), ECHO_KEY)
        .unwrap()
        .to_string();
    let utf8_ior = object_ior_with_code_sets(
        ECHO_REPOSITORY_ID,
        "127.0.0.1",
        addr.port(),
        ECHO_KEY,
        CodeSetPolicy::new(CharCodeSet::Utf8),
    )
    .unwrap()
    .to_string();
    // A reference naming UTF-8 as the server's native char code set:
    // omniORBpy converts to it, and non-Latin-1 text goes through. (omniORB
    // picks the server's native code set whenever it can convert to it,
    // even when its own native code set is UTF-8 and the server lists
    // UTF-8 as a conversion code set, so a server that wants UTF-8 from
    // omniORB clients must announce it as native.)
    for (reference, options) in [
        (&utf8_ior, &[][..]),
        (&utf8_ior, &["-ORBnativeCharCodeSet", "UTF-8"][..]),
    ] {
        let (ok, output) = run_client(reference.clone(), options).await;
        assert!(ok, "{options:?}\n{output}");
        for check in [
            "ok narrow",
            "ok echoString 'hello'",
            "ok echoString 'h\\xe9llo w\\xf6rld'",
            "ok echoString '\\u65e5\\u672c\\u8a9e \\u2713'",
            "ok add",
            "ok add raises Overflow",
            "ok reverse",
            "ok ping",
            "ok _non_existent",
        ] {
            assert!(
                output.lines().any(|l| l == check),
                "{check:?} missing:\n{output}"
            );
        }
    }
    // Our default reference (ISO-8859-1 native, as omniORB's): Latin-1
    // text goes, Japanese cannot be sent (omniORBpy raises
    // DATA_CONVERSION before sending), whatever omniORBpy's own native set.
    let (ok, output) = run_client(ior.clone(), &["-ORBnativeCharCodeSet", "UTF-8"]).await;
    assert!(!ok);
    assert!(
        output
            .lines()
            .any(|l| l == "ok echoString 'h\\xe9llo w\\xf6rld'")
            && output.contains("DATA_CONVERSION"),
        "{output}"
    );
    // corbaloc carries no code sets: omniORBpy speaks GIOP 1.0, ISO-8859-1.
    let (_, output) = run_client(format!("corbaloc::{addr}/Echo"), &[]).await;
    assert!(
        output
            .lines()
            .any(|l| l == "ok echoString 'h\\xe9llo w\\xf6rld'"),
        "{output}"
    );
    for _ in 0..100 {
        if servant.pings() >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(servant.pings() >= 1);
    server.shutdown().await;
}
