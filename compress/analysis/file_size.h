// Size of a model on disk: the bytes of its files (model file plus external-data
// files, Model::source_files) and how small gzip makes them. The gzip figure is a
// cheap upper bound on what entropy coding of the weights could reach, so it shows
// how much pruning or weight sharing left on the table.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mc {

struct FileSize {
  std::string path;
  uint64_t bytes = 0;       // size on disk
  uint64_t gzip_bytes = 0;  // gzip (zlib deflate, level 9, gzip wrapper) of the file's bytes
};

struct FileSizes {
  std::vector<FileSize> files;  // in the order given, duplicates removed
  uint64_t bytes = 0;           // sums over files
  uint64_t gzip_bytes = 0;      // each file compressed on its own, then summed
};

// Reads each file once, streaming (no whole-file buffer). Throws Error(Input)
// naming the file when it cannot be opened or read, Error(Internal) if zlib fails.
FileSizes measure_files(const std::vector<std::string>& paths);

// gzip size of an in-memory buffer at the given zlib level (exposed for tests).
uint64_t gzip_size(const std::string& bytes, int level = 9);

}  // namespace mc
