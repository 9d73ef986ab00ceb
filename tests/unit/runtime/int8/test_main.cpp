// Own Catch2 main: these tests also cross-build standalone for aarch64.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
