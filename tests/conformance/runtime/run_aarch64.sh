#!/usr/bin/env bash
# CTest `conformance_aarch64_qemu`: export the node suite natively, then run the runtime-only
# runner cross-built for aarch64 under qemu-aarch64.
#   run_aarch64.sh PREPARE_BIN CASES_DIR NODE_DIR
# The runner comes from build-aarch64/ (the runtime's standalone cross build, see
# scripts/test-aarch64.sh) when that build includes tests/conformance/runtime, otherwise
# from build-aarch64-conformance/ (aarch64/CMakeLists.txt: runtime + this folder).
set -euo pipefail
PREPARE=$1 CASES=$2 NODES=$3
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
for tool in aarch64-linux-gnu-g++ qemu-aarch64 flatc; do
  command -v "$tool" >/dev/null 2>&1 || { echo "conformance aarch64: $tool not found (run scripts/setup.sh)" >&2; exit 1; }
done
"$PREPARE" "$CASES" "$NODES"

GEN=(); command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
LAUNCHER=(); command -v ccache >/dev/null 2>&1 && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
TOOLCHAIN="$ROOT/runtime-check/cmake/aarch64-linux-gnu.cmake"
SHARED="$ROOT/${MCRT_AARCH64_BUILD:-build-aarch64}"
if [ -d "$SHARED" ] && cmake --build "$SHARED" --target help 2>/dev/null | grep -q '^mcrt_conformance_run'; then
  BUILD="$SHARED"
else
  BUILD="$ROOT/build-aarch64-conformance"
  cmake -S "$ROOT/tests/conformance/runtime/aarch64" -B "$BUILD" "${GEN[@]}" "${LAUNCHER[@]}" \
    -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target mcrt_conformance_run -j 2 >/dev/null
RUNNER=$(find "$BUILD" -name mcrt_conformance_run -type f -perm -u+x | head -1)
[ -n "$RUNNER" ] || { echo "conformance aarch64: mcrt_conformance_run was not built" >&2; exit 1; }
file "$RUNNER" | grep -q aarch64 || { echo "conformance aarch64: $RUNNER is not an aarch64 binary" >&2; exit 1; }
exec qemu-aarch64 -L /usr/aarch64-linux-gnu "$RUNNER" "$CASES"
