#!/usr/bin/env bash
# Generates the Python stubs (message classes and the gRPC stub) from proto/ with Debian's protoc
# and grpc_python_plugin (packages protobuf-compiler, protobuf-compiler-grpc). The output,
# clients/python/isotope/session/v1/*_pb2*.py, is generated, never edited; the Python test fails
# when it differs from what this script makes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here}"
mkdir -p "$out"
protoc -I "$root/proto" \
  --python_out="$out" \
  --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
  "$root/proto/isotope/session/v1/session.proto"
