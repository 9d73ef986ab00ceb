// Whole-file reads for the dataset readers, bounded by a byte budget. (A twin of
// mc::read_file_bounded in compress/io, kept here so that mc_data does not depend on
// mc_compress, which will depend on mc_data.)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mc::data {

// Reads a regular file of at most max_bytes. Throws mc::Error(Input) "<path>: ..." when
// it is missing, not a regular file, larger than max_bytes or the read comes up short.
std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes);

}  // namespace mc::data
