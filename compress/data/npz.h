// .npz archives (numpy.savez / savez_compressed): a zip file whose members are .npy
// files, stored (method 0) or deflated (method 8). Only what numpy writes is
// supported: no encryption, no multi-disk archives; zip64 extra fields are honoured.
//
// Every zip header field is bounds-checked against the real file before use: the
// end-of-central-directory record, the central directory's offset, size and entry
// count, each entry's name/extra/comment lengths, the local header offset, and
// data offset + compressed size. Uncompressed sizes are checked against a budget
// before decoding; deflate output must be exactly the declared size and match the
// CRC-32. Each member is then parsed by mcrt_npy with all of its checks.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime-check/npy/npy.h"

namespace mc::data {

struct NpzLimits {
  uint64_t max_file_bytes = 4ull << 30;    // the .npz itself
  uint64_t max_total_bytes = 4ull << 30;   // sum of uncompressed member sizes
  uint32_t max_entries = 4096;
};

// Members in archive order; names without the ".npy" suffix ("x.npy" -> "x").
using NpzArrays = std::vector<std::pair<std::string, mcrt::NpyArray>>;

// Throws mc::Error(Input) "<path>: ..." (or "<path>: <member>: ...") on any problem.
NpzArrays read_npz_file(const std::string& path, const NpzLimits& limits = {});
NpzArrays read_npz_buffer(const uint8_t* data, size_t size, const std::string& name, const NpzLimits& limits = {});

}  // namespace mc::data
