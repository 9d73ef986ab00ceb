// Own Catch2 main: these tests also cross-build standalone for aarch64 (no mc_catch_main there).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
