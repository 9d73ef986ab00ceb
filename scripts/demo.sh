#!/usr/bin/env bash
# The main job on the bundled example, as `make demo` runs it.
# Usage: scripts/demo.sh path/to/mcompress
set -euo pipefail
cd "$(dirname "$0")/.."
MC=${1:-build/cli/mcompress}
MODEL=examples/fashion-mnist/mobile.onnx
OUT=build/demo
mkdir -p "$OUT"

echo "== mcompress inspect $MODEL"
"$MC" inspect "$MODEL"
echo
echo "== mcompress optimize $MODEL -o $OUT/mobile.opt.onnx"
"$MC" optimize "$MODEL" -o "$OUT/mobile.opt.onnx"
echo
echo "== mcompress inspect $OUT/mobile.opt.onnx"
"$MC" inspect "$OUT/mobile.opt.onnx"
