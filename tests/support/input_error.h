// The message of the mc::Error that f throws, checked to be an input error (exit 2); the test fails
// when f throws none. Header-only, for Catch2 tests of the toolchain.
#pragma once
#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include "compress/error.h"

namespace mc::test {

inline std::string input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const mc::Error& e) {
    CHECK(e.kind() == mc::ErrorKind::Input);
    return e.what();
  }
  FAIL("no mc::Error thrown");
  return "";
}

}  // namespace mc::test
