#!/usr/bin/env bash
# One idempotent set-up for developers, CI and `make demo`/`make test`.
# Installs only Debian 12 packages and, for the test/bench peer, the npm
# package onnxruntime-node (with --ignore-scripts: its install script tries to
# download GPU binaries from a host we cannot reach; the CPU library ships inside).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libonnx-dev libprotobuf-dev protobuf-compiler
  libcli11-dev libspdlog-dev libfmt-dev catch2
  libflatbuffers-dev flatbuffers-compiler
  nlohmann-json3-dev libyaml-cpp-dev libzstd-dev zlib1g-dev
  dataset-fashion-mnist libonnx-testdata
  g++-aarch64-linux-gnu qemu-user
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  python3-torch python3-onnx python3-numpy
  libtorch-dev libgloo-dev
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js: any node >= 18 with npm will do; the Debian one is installed only when none is present.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# ONNX Runtime 1.30 as a peer for tests and benchmarks only; kept inside the tree (.deps/, git-ignored).
ORT_DIR=.deps/ort
if [ ! -f "$ORT_DIR/node_modules/onnxruntime-node/package.json" ] || \
   ! grep -q '"version": "1.30.0"' "$ORT_DIR/node_modules/onnxruntime-node/package.json"; then
  mkdir -p "$ORT_DIR"
  (cd "$ORT_DIR" && [ -f package.json ] || echo '{"name":"mcompress-peers","private":true}' > package.json)
  (cd "$ORT_DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error onnxruntime-node@1.30.0 >&2)
fi
echo "setup: ok" >&2
