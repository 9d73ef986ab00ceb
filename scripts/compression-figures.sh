#!/usr/bin/env bash
# Reproduces the compression figures quoted in README.md ("Compression so far").
# Usage: scripts/compression-figures.sh [path/to/mcompress] [path/to/bench_prune_latency]   (after `make build`)
# Calibration and ratio choice use Fashion-MNIST *training* images; accuracy is on the 10,000 test images.
set -euo pipefail
cd "$(dirname "$0")/.."
MC=${1:-build/cli/mcompress}
BENCH=${2:-$(dirname "$MC")/../bench/prune/bench_prune_latency}
EX=examples/fashion-mnist
D=/usr/share/datasets/fashion-mnist
OUT=build/figures
mkdir -p "$OUT"
NORM=(--mean 0.2860 --std 0.3530)
TEST=(--data "$D/t10k-images-idx3-ubyte.gz" --labels "$D/t10k-labels-idx1-ubyte.gz" "${NORM[@]}")
TRAIN=(--data "$D/train-images-idx3-ubyte.gz" --labels "$D/train-labels-idx1-ubyte.gz" "${NORM[@]}" --limit 2000)
CALIB=(--calib-data "$D/train-images-idx3-ubyte.gz" "${NORM[@]}")

acc() { "$MC" --json check "$1" "${TEST[@]}" --runs 1 --warmup 0 | /usr/bin/python3 -c 'import json,sys; print("%.2f%%" % json.load(sys.stdin)["accuracy"]["top1"])'; }
macs() { "$MC" --json inspect "$1" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["totals"]["macs"])'; }
params() { "$MC" --json inspect "$1" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["totals"]["params"])'; }
size() { stat -c %s "$1"; }

echo "== unstructured 70%, sensitivity-chosen per-layer ratios (chosen on 2,000 training images), no fine-tuning"
echo "   magnitude only, then + least-squares reconstruction on 2,000 training images (--calib-data)"
for m in mlp lenet5; do
  rm -f "$OUT/$m.ratios.json" "$OUT/$m.s70.mcrt" "$OUT/$m.s70r.mcrt" "$OUT/$m.mcrt"
  "$MC" -q sensitivity "$EX/$m.onnx" "${TRAIN[@]}" --auto --target params=0.3 -o "$OUT/$m.ratios.json" >/dev/null
  "$MC" -q prune "$EX/$m.onnx" --config "$OUT/$m.ratios.json" --format runtime -o "$OUT/$m.s70.mcrt" >/dev/null
  "$MC" -q prune "$EX/$m.onnx" --config "$OUT/$m.ratios.json" "${CALIB[@]}" --calib-size 2000 --format runtime -o "$OUT/$m.s70r.mcrt" >/dev/null
  "$MC" -q export "$EX/$m.onnx" --format runtime -o "$OUT/$m.mcrt" >/dev/null
  echo "$m: fp32 $(acc "$EX/$m.onnx") → magnitude $(acc "$OUT/$m.s70.mcrt"), + reconstruction $(acc "$OUT/$m.s70r.mcrt");" \
       "runtime file $(size "$OUT/$m.mcrt") → $(size "$OUT/$m.s70.mcrt") / $(size "$OUT/$m.s70r.mcrt") bytes;" \
       "ratios $(tr -d '\n ' < "$OUT/$m.ratios.json")"
done

echo "== the same, with ratios chosen by sensitivity --reconstruct (every trial re-fitted; slower: a few minutes)"
for m in mlp lenet5; do
  rm -f "$OUT/$m.rratios.json" "$OUT/$m.s70rr.mcrt"
  "$MC" -q sensitivity "$EX/$m.onnx" "${TRAIN[@]}" --auto --target params=0.3 --reconstruct -o "$OUT/$m.rratios.json" >/dev/null
  nz=$("$MC" --json prune "$EX/$m.onnx" --config "$OUT/$m.rratios.json" "${CALIB[@]}" --calib-size 2000 --format runtime \
         -o "$OUT/$m.s70rr.mcrt" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print("%d of %d (%.3fx)" % (j["after"]["nonzero_params"], j["before"]["params"], j["after"]["nonzero_params"] / j["before"]["params"]))')
  echo "$m: fp32 $(acc "$EX/$m.onnx") → $(acc "$OUT/$m.s70rr.mcrt"); runtime file $(size "$OUT/$m.mcrt") → $(size "$OUT/$m.s70rr.mcrt") bytes;" \
       "nonzero params $nz; ratios $(tr -d '\n ' < "$OUT/$m.rratios.json")"
done

echo "== channel pruning 50% (l1), then + least-squares reconstruction on 1,000 training images"
for m in mobile resnet; do
  rm -f "$OUT/$m.c50.onnx" "$OUT/$m.c50r.onnx" "$OUT/$m.c50bn.onnx"
  "$MC" -q prune "$EX/$m.onnx" --granularity channel --ratio 0.5 -o "$OUT/$m.c50.onnx" >/dev/null
  "$MC" -q prune "$EX/$m.onnx" --granularity channel --ratio 0.5 --criterion bn -o "$OUT/$m.c50bn.onnx" >/dev/null
  "$MC" -q prune "$EX/$m.onnx" --granularity channel --ratio 0.5 "${CALIB[@]}" --calib-size 1000 -o "$OUT/$m.c50r.onnx" >/dev/null
  echo "$m: MACs $(macs "$EX/$m.onnx") → $(macs "$OUT/$m.c50.onnx"); top-1 $(acc "$EX/$m.onnx") → l1 $(acc "$OUT/$m.c50.onnx")," \
       "bn $(acc "$OUT/$m.c50bn.onnx"), l1 + reconstruction $(acc "$OUT/$m.c50r.onnx") (no fine-tuning)"
done
if [ -x "$BENCH" ]; then
  echo "== latency, channel-pruned (l1, 0.5) vs original, runtime and ONNX Runtime in the same run"
  "$BENCH" --runs 100 --warmup 10 "$EX/mobile.onnx" "$OUT/mobile.c50.onnx" "$EX/resnet.onnx" "$OUT/resnet.c50.onnx"
else
  echo "(bench_prune_latency not built: ninja -C build bench_prune_latency)"
fi

echo "== low-rank --energy 0.9"
rm -f "$OUT/mlp.lr90.onnx"
"$MC" -q lowrank "$EX/mlp.onnx" --energy 0.9 -o "$OUT/mlp.lr90.onnx" >/dev/null
echo "mlp: params $(params "$EX/mlp.onnx") → $(params "$OUT/mlp.lr90.onnx"); top-1 $(acc "$EX/mlp.onnx") → $(acc "$OUT/mlp.lr90.onnx")"
