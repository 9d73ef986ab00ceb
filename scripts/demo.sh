#!/usr/bin/env bash
# The main job on the bundled example, as `make demo` runs it:
# inspect → optimize → export to the runtime → check (size, memory, latency,
# accuracy on the 10,000 Fashion-MNIST test images, fidelity vs the original), then pruning,
# int8 and channel pruning, and a last table of all of them side by side.
# Usage: scripts/demo.sh [path/to/mcompress]
set -euo pipefail
cd "$(dirname "$0")/.."
MC=${1:-build/cli/mcompress}
MODEL=examples/fashion-mnist/mobile.onnx
OUT=build/demo
DATA=/usr/share/datasets/fashion-mnist
mkdir -p "$OUT"
rm -f "$OUT"/mobile.opt.onnx "$OUT"/mobile.mcrt

step() { echo; echo "\$ $*"; "$@"; }

step "$MC" inspect "$MODEL"
step "$MC" optimize "$MODEL" -o "$OUT/mobile.opt.onnx"
step "$MC" export "$OUT/mobile.opt.onnx" --format runtime -o "$OUT/mobile.mcrt"
step "$MC" check "$OUT/mobile.mcrt" --reference "$MODEL" \
  --data "$DATA/t10k-images-idx3-ubyte.gz" --labels "$DATA/t10k-labels-idx1-ubyte.gz" \
  --mean 0.2860 --std 0.3530

# Pruning (issue 5): 70 % of LeNet-300-100's weights by magnitude, the rest re-fitted by least
# squares on 2,000 *training* images (no fine-tuning), stored sparse in the runtime file; prune
# prints the before/after line, check the accuracy and the fidelity to the original.
rm -f "$OUT"/mlp.pruned.mcrt
step "$MC" prune examples/fashion-mnist/mlp.onnx --ratio 0.7 \
  --calib-data "$DATA/train-images-idx3-ubyte.gz" --mean 0.2860 --std 0.3530 --format runtime -o "$OUT/mlp.pruned.mcrt"
step "$MC" check "$OUT/mlp.pruned.mcrt" --reference examples/fashion-mnist/mlp.onnx \
  --data "$DATA/t10k-images-idx3-ubyte.gz" --labels "$DATA/t10k-labels-idx1-ubyte.gz" \
  --mean 0.2860 --std 0.3530

# Quantization (issue 4): static int8 of the depthwise CNN, calibrated on 1,000 *training*
# images, written as the runtime's int8 file with its coded body (--entropy-coding: graph and weights
# LZ77+Huffman coded, decoded once at load); quantize prints its per-layer report and the
# before/after line, check the accuracy and the fidelity to the fp32 original.
rm -f "$OUT"/mobile.int8.mcrt
step "$MC" quantize "$MODEL" --mode static \
  --calib-data "$DATA/train-images-idx3-ubyte.gz" --mean 0.2860 --std 0.3530 --format runtime --entropy-coding -o "$OUT/mobile.int8.mcrt"
step "$MC" check "$OUT/mobile.int8.mcrt" --reference "$MODEL" \
  --data "$DATA/t10k-images-idx3-ubyte.gz" --labels "$DATA/t10k-labels-idx1-ubyte.gz" \
  --mean 0.2860 --std 0.3530

# Channel pruning (issue 5): half of every channel group of the depthwise CNN removed, across its
# depthwise/pointwise pairs, the kept filters re-fitted on 1,000 training images: a smaller dense
# model that is faster on any runtime. Without fine-tuning it loses about 18 points of top-1 here;
# `mcompress finetune` (docs/training.md) is the step that wins them back.
rm -f "$OUT"/mobile.slim.mcrt
step "$MC" prune "$MODEL" --granularity channel --ratio 0.5 \
  --calib-data "$DATA/train-images-idx3-ubyte.gz" --calib-size 1000 --mean 0.2860 --std 0.3530 \
  --format runtime -o "$OUT/mobile.slim.mcrt"

# The report: the original and each result side by side, measured the same way on the same
# 10,000 test images (ratios against the first row).
step "$MC" check "$MODEL" "$OUT/mobile.mcrt" "$OUT/mobile.slim.mcrt" "$OUT/mobile.int8.mcrt" --reference "$MODEL" \
  --data "$DATA/t10k-images-idx3-ubyte.gz" --labels "$DATA/t10k-labels-idx1-ubyte.gz" \
  --mean 0.2860 --std 0.3530 --runs 200
