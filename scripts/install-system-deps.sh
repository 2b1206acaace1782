#!/usr/bin/env bash
# Installs the Debian packages the tests need, only those missing. Idempotent; run by `make test`.
# One line per package: "<command that proves it is installed> <debian package>".
set -euo pipefail
NEEDED=(
    "promtool prometheus"
    "prometheus prometheus"
    "amtool prometheus-alertmanager"
    "prometheus-alertmanager prometheus-alertmanager"
    "docker-compose docker-compose"
    "chromium chromium"
    "redis-server redis-server"
)
missing=()
for entry in "${NEEDED[@]}"; do
    probe=${entry%% *}
    package=${entry#* }
    command -v "$probe" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
    echo "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
