#!/usr/bin/env bash
# Runs Ithaca's whole test suite on a fresh Debian machine, setting up what
# it needs first:
#
#   ./scripts/test.sh
#
# 1. scripts/install-test-deps.sh: Debian packages (PostgreSQL server,
#    omniORB, gSOAP, wrk, xmllint, JAX-WS), the Python venv (zeep, suds,
#    prometheus_client) and node `soap`; fast when all is there.
# 2. cargo fmt --check, then clippy on every crate and target with -D warnings.
# 3. rustdoc with -D warnings.
# 4. Every unit, integration, interop and doc test, and the fuzz seed-corpus
#    replay (the fuzz crate's own test), with the lock file as committed.
#
# Tests that need ../shared/corpus or ../shared/schemas (the corpus tier)
# run when those folders exist and print a plain "corpus tier skipped" line
# when they do not. Nothing else is ever skipped.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "installing test dependencies"
scripts/install-test-deps.sh

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# A one-shot build gains nothing from incremental state, which would
# otherwise take gigabytes beside the test binaries.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all crates, all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

if [ -d "$root/../shared/corpus" ]; then
    echo "corpus tier: ../shared/corpus is present; corpus tests run"
else
    echo "corpus tier skipped: ../shared/corpus is absent (the corpus tests say so one by one)"
fi

step "cargo test (unit, integration, interop, doc tests, fuzz seed replay)"
cargo test --workspace --locked

step "done in $(( $(date +%s) - started ))s"
