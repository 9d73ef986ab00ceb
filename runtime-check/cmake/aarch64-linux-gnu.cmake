# CMake toolchain file: cross-build for AArch64 Linux with Debian's g++-aarch64-linux-gnu, statically
# linked, tests run through qemu-aarch64 (ctest uses CMAKE_CROSSCOMPILING_EMULATOR).
#   cmake -S <src> -B <build> -G Ninja -DCMAKE_TOOLCHAIN_FILE=runtime-check/cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Look for programs on the host, libraries and headers only in the target sysroot.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Static executables: qemu-aarch64 then needs no target dynamic loader (-L kept for safety).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# -cpu max: the emulated CPU has every optional extension (dotprod, fp16, ...), so kernels built with
# -march=armv8.2-a+dotprod also run.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-cpu;max;-L;/usr/aarch64-linux-gnu")
