//! Shared by the omniORB interop tests: building the C++ peers in
//! `omniorb/` with omniidl and g++, and a guard that kills a child process.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// What to install when omniORB is missing.
pub const HINT: &str = "omniORB is needed: run scripts/install-test-deps.sh (Debian: omniorb omniidl libomniorb4-dev omniorb-nameserver pkg-config g++)";

/// C++ programs to build from `omniorb/`.
pub struct Peers {
    /// A folder name under the target's temporary directory.
    pub dir: &'static str,
    /// Files to copy from `omniorb/` besides the sources named below.
    pub files: &'static [&'static str],
    /// IDL files to compile with `omniidl -bcxx` plus these arguments.
    pub idl: &'static [&'static str],
    /// Extra omniidl arguments (`-Wba` for the DynSK stubs).
    pub omniidl_args: &'static [&'static str],
    /// The pkg-config package to link (`omniORB4` or `omniDynamic4`).
    pub package: &'static str,
    /// Each program and the generated stub files it links.
    pub programs: &'static [(&'static str, &'static [&'static str])],
}

/// Builds `peers` and returns the folder holding the programs.
pub fn build(peers: &Peers) -> PathBuf {
    // The peers live in examples/corba-echo/omniorb; tests of other
    // packages (the `ithaca` command's) include this module too.
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("examples/corba-echo/omniorb"))
        .find(|dir| dir.is_dir())
        .unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(peers.dir);
    std::fs::create_dir_all(&out).unwrap();
    let sources = peers
        .programs
        .iter()
        .map(|(program, _)| format!("{program}.cc"));
    for file in peers.files.iter().map(|f| f.to_string()).chain(sources) {
        std::fs::copy(source.join(&file), out.join(&file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    for idl in peers.idl {
        let status = Command::new("omniidl")
            .arg("-bcxx")
            .args(peers.omniidl_args)
            .arg(idl)
            .current_dir(&out)
            .status()
            .unwrap_or_else(|e| panic!("omniidl: {e}; {HINT}"));
        assert!(status.success(), "omniidl {idl} failed; {HINT}");
    }
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", peers.package])
        .output()
        .unwrap_or_else(|e| panic!("pkg-config: {e}; {HINT}"));
    assert!(
        flags.status.success(),
        "pkg-config {} failed; {HINT}",
        peers.package
    );
    let flags = String::from_utf8(flags.stdout).unwrap();
    for (program, stubs) in peers.programs {
        let status = Command::new("g++")
            .args(["-O1", "-o", program, &format!("{program}.cc")])
            .args(*stubs)
            .args(flags.split_whitespace())
            .current_dir(&out)
            .status()
            .unwrap_or_else(|e| panic!("g++: {e}; {HINT}"));
        assert!(status.success(), "building {program} failed; {HINT}");
    }
    out
}

/// A child process, killed by pid when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
