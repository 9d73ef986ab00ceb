// How the verbs write numbers, shapes and sizes in their text output. One place, so
// that every verb prints the same figure the same way (the e2e tests compare the text).
// All functions are pure and locale-independent (printf "C" formatting).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mc::cli {

// 1234567 → "1,234,567".
std::string thousands(uint64_t v);

// v with exactly `digits` decimals ("%.*f"): fixed(2.5, 2) → "2.50".
std::string fixed(double v, int digits);

// As fixed, with the sign always shown ("%+.*f"): signed_fixed(-0.5, 2) → "-0.50", "+0.00".
std::string signed_fixed(double v, int digits);

// Three significant digits, exponent when needed ("%.3g"): 1.234e-05 → "1.23e-05".
std::string sci(double v);

// Shortest natural form ("%g"): 0.5 → "0.5", 3 → "3".
std::string num(double v);

// Dims joined by 'x' ("1x3x224x224"); "scalar" for no dims.
std::string shape_text(const std::vector<int64_t>& dims);

// Bytes for people: "512 B", or "1.50 KiB (1,536 B)" from 1 KiB up (KiB..TiB, two decimals).
std::string human_bytes(uint64_t bytes);

// s left-aligned in a column of width w; always followed by at least one space, so a
// value wider than its column still stays apart from the next one.
std::string pad(const std::string& s, size_t w);

}  // namespace mc::cli
