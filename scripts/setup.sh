#!/usr/bin/env bash
# Installs every Debian package that building, running and testing tulle needs.
# Idempotent: packages already present are skipped, so it is cheap to run every time.
set -euo pipefail

PACKAGES=(
  make gcc clang llvm pkg-config            # build; clang for BPF and libFuzzer
  libclang-rt-14-dev                        # sanitizer and libFuzzer runtimes
  libyaml-dev libjansson-dev libsqlite3-dev # object model and store
  libssl-dev                                # TLS (API, proxy, certificates)
  libbpf-dev libelf-dev zlib1g-dev bpftool  # eBPF datapath
  iproute2 iputils-ping procps psmisc       # network namespaces, tests
  curl sqlite3 ca-certificates python3      # tests drive the API with curl, read JSON with python3
  bind9-dnsutils wrk                        # real clients: dig for DNS, wrk for load through services
  prometheus                                # promtool checks the agents' metrics
)

# `setup.sh bench` adds the peers the benchmarks compare against.
if [ "${1:-}" = bench ]; then
  PACKAGES+=(etcd-server etcd-client iperf3 iptables nginx)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}; run this script as root (or with sudo)" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y --no-install-recommends "${missing[@]}"
