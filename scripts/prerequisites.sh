#!/usr/bin/env bash
# What `npm test` needs besides node_modules, checked (and installed when possible) before it runs:
# the Python client's tests (test/e2e/python.test.ts) use Debian's python3 with grpcio and
# protobuf, and its stub generator uses Debian's protoc and grpc_python_plugin — the committed
# stubs are what exactly these versions generate; the metrics tests (test/e2e/metrics.test.ts)
# check the scrape and the example alert rules with promtool, from Debian's prometheus; the replica,
# lifecycle and Db suites run the service through Debian's pgbouncer in transaction mode (each
# starts its own, test/support/pgbouncer.ts; the package's own service is never used); the admin
# console's tests (test/e2e/admin-*.test.ts) drive Debian's chromium with playwright-core. Run first by
# `npm test` and by .ci/run.
# Missing packages are installed with apt-get when running as root; otherwise this prints the
# command to run and fails.
set -euo pipefail

packages=(protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf prometheus pgbouncer chromium)

if ! command -v dpkg-query >/dev/null; then
  echo "prerequisites: npm test needs Debian's ${packages[*]}, and this machine has no dpkg (not Debian)." >&2
  exit 1
fi
missing=()
for package in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null || true)"
  [[ "$status" == ii* ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ "$(id -u)" -ne 0 ]]; then
  echo "prerequisites: npm test needs Debian packages that are not installed (${missing[*]}); as root, run:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "== prerequisites: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -o DPkg::Lock::Timeout=120 "${missing[@]}" >/dev/null
