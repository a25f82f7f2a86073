#!/usr/bin/env bash
# Installs the Debian 12 packages a make target needs, or prints the command when not root.
# Usage: scripts/deps.sh build|test|bench
set -euo pipefail
build=(cmake ninja-build g++ pkg-config ccache
       libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
       libsqlite3-dev libpq-dev libssl-dev libcurl4-openssl-dev libfmt-dev libspdlog-dev libcli11-dev
       libtoml11-dev libjemalloc-dev)
test=(libgtest-dev python3 python3-pytest python3-requests python3-jsonschema python3-yaml
      python3-jwt python3-cryptography curl haproxy ceph-mon ceph-osd radosgw wrk
      postgresql-15 postgresql-client-15)
bench=(wrk python3 util-linux)
want=("${build[@]}")
[ "${1:-build}" = test ] && want+=("${test[@]}")
[ "${1:-build}" = bench ] && want+=("${bench[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "tams needs these Debian packages: ${missing[*]}" >&2
  echo "Run: sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd
