# The two entry points of the quick start. Each one does all set-up by itself.
#   make demo   set-up, build, run the main job on the bundled example, print its report
#   make test   set-up, build, run every test (Release build, then the ASan+UBSan loader tests)
JOBS     ?= $(shell nproc)
BUILD    ?= build
ASAN_BUILD ?= build-asan
GEN      := $(shell command -v ninja >/dev/null 2>&1 && echo -G Ninja)
LAUNCHER := $(shell command -v ccache >/dev/null 2>&1 && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
MC       := $(BUILD)/cli/mcompress
# ccache hits across clones in different folders (CI builds a fresh clone).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
# distill/ uses a precompiled header; without this ccache cannot cache its objects (docs/training.md).
export CCACHE_SLOPPINESS := pch_defines,time_macros
EXAMPLE  := examples/fashion-mnist

.PHONY: all setup build build-asan demo test test-release test-asan clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) $(GEN) $(LAUNCHER) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: setup
	@cmake -S . -B $(ASAN_BUILD) $(GEN) $(LAUNCHER) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMC_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target mc_loader_checks

demo: build
	@bash scripts/demo.sh $(MC)

test-release: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	@cd $(ASAN_BUILD) && ctest --output-on-failure -L loader

test: test-release test-asan

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
