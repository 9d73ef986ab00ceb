#!/usr/bin/env bash
# Benchmarks (not tests): the runtime against ONNX Runtime on the example models, then the
# kernel microbenchmark. Builds only the two benchmark targets.
#   scripts/bench.sh [RUNS] [WARMUP]        (defaults 200 and 20)
# Environment: BUILD (build folder, default build-bench), JOBS (default 2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build-bench}"
JOBS="${JOBS:-2}"
RUNS="${1:-200}"
WARMUP="${2:-20}"

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
ninja -C "$BUILD" -j"$JOBS" bench_runtime_vs_ort bench_kernels >/dev/null

echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p')"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
echo "commit:  $(git -C "$ROOT" rev-parse --short HEAD)"
echo
echo "\$ bench_runtime_vs_ort --runs $RUNS --warmup $WARMUP"
(cd "$ROOT" && "$BUILD/bench/runtime_vs_ort/bench_runtime_vs_ort" --runs "$RUNS" --warmup "$WARMUP")
echo
echo "\$ bench_kernels"
"$BUILD/bench/kernels/bench_kernels"
