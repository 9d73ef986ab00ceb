#!/usr/bin/env bash
# Fails when the runner mcrun links protobuf, onnx, torch or spdlog: by its CMake link
# line, its dynamic dependencies (ldd, native builds) and its symbols (nm).
#   check_no_toolchain_deps.sh MCRUN LINK_LIBRARIES_FILE [NM]
set -euo pipefail
mcrun=$1
libs_file=$2
nm_tool=${3:-nm}
pattern='protobuf|onnx|torch|c10|spdlog'
fail=0
# CMake writes internal entries like "::@(0x55f1c1abdc10)" into the link line: random addresses that
# once spelled "c10". They name no library, so they are dropped before matching.
if sed -E 's/::@\(0x[0-9a-fA-F]+\)//g' "$libs_file" | grep -Eiq "$pattern"; then
  echo "link line names a toolchain library: $(cat "$libs_file")"
  fail=1
fi
if deps=$(ldd "$mcrun" 2>/dev/null); then  # fails for static (cross) binaries: nothing to list
  # Only library names and paths: load addresses are random hex and once spelled "c10".
  if echo "$deps" | awk '{print $1, $3}' | grep -Ei 'lib(protobuf|onnx|torch|c10|spdlog)'; then
    echo "ldd shows a toolchain library"
    fail=1
  fi
  echo "ldd: $(echo "$deps" | awk '{print $1}' | tr '\n' ' ')"
fi
syms=$("$nm_tool" -C "$mcrun" 2>/dev/null || true)
# The check must be able to fail: make sure nm could read the binary at all.
if ! grep -q 'mcrt::' <<<"$syms"; then
  echo "cannot read symbols of $mcrun with $nm_tool"
  fail=1
fi
if grep -E 'google::protobuf|onnx::|torch::|c10::|spdlog::' <<<"$syms" | head -5 | grep .; then
  echo "mcrun contains toolchain symbols"
  fail=1
fi
[ $fail -eq 0 ] && echo "mcrun: no protobuf/onnx/torch/spdlog dependency"
exit $fail
