#!/usr/bin/env bash
# Installs what Ithaca's test suite needs when it is missing, and nothing else.
#
#   scripts/install-test-deps.sh
#
# Idempotent and fast when everything is already there: it only asks apt,
# pip or npm for what a check below finds missing.
#
# - Debian packages: the PostgreSQL server (throwaway clusters in tests), omniORB
#   (CORBA interop), gSOAP and wrk (benchmarks), xmllint, JAX-WS (`wsimport`,
#   whose generated client gateway/tests/soap_rich.rs compiles), a JDK,
#   Chromium with chromedriver (the operator page's browser test, gateway/tests/ui.rs),
#   and libfaketime (oracle clocks running fast, gateway/tests/membership_oracle_faults.rs).
# - A Python venv in .interop/venv with zeep, suds-community, prometheus_client
#   and omniORBpy (salome-omniorb).
# - node `soap` in tests/interop/node/node_modules (from its package-lock.json).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf 'install-test-deps: %s\n' "$*" >&2; }

apt_packages=(
    postgresql
    omniorb omniidl libomniorb4-dev omniorb-nameserver omniorb-idl pkg-config
    gsoap libgsoap-dev
    wrk
    libxml2-utils
    jaxws libjaxws-java default-jdk-headless
    python3-venv
    chromium chromium-driver
    faketime
)

missing=()
for p in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python clients, pinned in tests/interop/python/requirements.txt.
venv="$root/.interop/venv"
req="$root/tests/interop/python/requirements.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "creating Python venv in .interop/venv"
    python=$(command -v python3)
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
fi

# Node clients, pinned by tests/interop/node/package-lock.json.
node_dir="$root/tests/interop/node"
lock_sum=$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$node_dir/node_modules/.lock.sha256" 2>/dev/null)" != "$lock_sum" ]; then
    log "installing node packages in tests/interop/node"
    (cd "$node_dir" && npm ci --silent --no-audit --no-fund)
    echo "$lock_sum" >"$node_dir/node_modules/.lock.sha256"
fi

log "all test dependencies present"
