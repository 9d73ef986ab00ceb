#!/usr/bin/env bash
# Reproduces the compression figures quoted in README.md ("Compression so far").
# Usage: scripts/compression-figures.sh [path/to/mcompress]   (after `make build`)
set -euo pipefail
cd "$(dirname "$0")/.."
MC=${1:-build/cli/mcompress}
EX=examples/fashion-mnist
D=/usr/share/datasets/fashion-mnist
OUT=build/figures
mkdir -p "$OUT"
TEST=(--data "$D/t10k-images-idx3-ubyte.gz" --labels "$D/t10k-labels-idx1-ubyte.gz" --mean 0.2860 --std 0.3530)
TRAIN=(--data "$D/train-images-idx3-ubyte.gz" --labels "$D/train-labels-idx1-ubyte.gz" --mean 0.2860 --std 0.3530 --limit 2000)

acc() { "$MC" --json check "$1" "${TEST[@]}" --runs 1 --warmup 0 | /usr/bin/python3 -c 'import json,sys; print("%.2f%%" % json.load(sys.stdin)["accuracy"]["top1"])'; }
macs() { "$MC" --json inspect "$1" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["totals"]["macs"])'; }
params() { "$MC" --json inspect "$1" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["totals"]["params"])'; }
size() { stat -c %s "$1"; }

echo "== unstructured 70%, sensitivity-chosen per-layer ratios (chosen on 2,000 training images), no fine-tuning"
for m in mlp lenet5; do
  rm -f "$OUT/$m.ratios.json" "$OUT/$m.s70.mcrt" "$OUT/$m.mcrt"
  "$MC" -q sensitivity "$EX/$m.onnx" "${TRAIN[@]}" --auto --target params=0.3 -o "$OUT/$m.ratios.json" >/dev/null
  "$MC" -q prune "$EX/$m.onnx" --config "$OUT/$m.ratios.json" --format runtime -o "$OUT/$m.s70.mcrt" >/dev/null
  "$MC" -q export "$EX/$m.onnx" --format runtime -o "$OUT/$m.mcrt" >/dev/null
  echo "$m: fp32 $(acc "$EX/$m.onnx") → $(acc "$OUT/$m.s70.mcrt"); runtime file $(size "$OUT/$m.mcrt") → $(size "$OUT/$m.s70.mcrt") bytes"
done

echo "== channel pruning 50%"
for m in mobile resnet; do
  rm -f "$OUT/$m.c50.onnx"
  "$MC" -q prune "$EX/$m.onnx" --granularity channel --ratio 0.5 -o "$OUT/$m.c50.onnx" >/dev/null
  echo "$m: MACs $(macs "$EX/$m.onnx") → $(macs "$OUT/$m.c50.onnx"); top-1 $(acc "$EX/$m.onnx") → $(acc "$OUT/$m.c50.onnx") (no fine-tuning)"
done

echo "== low-rank --energy 0.9"
rm -f "$OUT/mlp.lr90.onnx"
"$MC" -q lowrank "$EX/mlp.onnx" --energy 0.9 -o "$OUT/mlp.lr90.onnx" >/dev/null
echo "mlp: params $(params "$EX/mlp.onnx") → $(params "$OUT/mlp.lr90.onnx"); top-1 $(acc "$EX/mlp.onnx") → $(acc "$OUT/mlp.lr90.onnx")"
