#!/usr/bin/env bash
# Cross-builds the runtime alone (runtime-check/, standalone: library, runner, and its
# tests) for aarch64 into build-aarch64/, and runs its ctest under qemu-aarch64.
# Called by the top-level CTest test `runtime_aarch64_qemu` (labels runtime;aarch64).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${MCRT_AARCH64_BUILD:-build-aarch64}
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
LAUNCHER=()
command -v ccache >/dev/null 2>&1 && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
for tool in aarch64-linux-gnu-g++ qemu-aarch64 flatc; do
  command -v "$tool" >/dev/null 2>&1 || { echo "test-aarch64: $tool not found (run scripts/setup.sh)" >&2; exit 1; }
done
cmake -S runtime-check -B "$BUILD" "${GEN[@]}" "${LAUNCHER[@]}" \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/runtime-check/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j 2
cd "$BUILD"
ctest --output-on-failure -j 2
