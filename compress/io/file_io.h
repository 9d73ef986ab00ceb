// Reading and writing files that may come from strangers (security.md).
// Reading is bounded and checked; writing is atomic: temp file in the target
// folder, checked writes, fsync, rename, fsync of the folder. Nothing is appended
// and an output never replaces one of the inputs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mc {

// Reads a whole regular file of at most max_bytes. Throws Error(Input) naming the
// file when it is missing, not a regular file, too large, or the read comes up short.
std::string read_file_bounded(const std::string& path, uint64_t max_bytes);

// Where external tensor bytes live, as parsed from ONNX's external_data entries.
struct ExternalDataRef {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;  // -1: "to the end of the file"
};

// Reads external data for one tensor whose model file is in model_dir. The location
// must be a relative path that stays inside model_dir: no "..", no absolute path, no
// empty component, no symlink on any component (each opened with O_NOFOLLOW relative
// to the previous one), a regular file with link count 1, and offset/length inside the
// real file size. expected_bytes is what the tensor's dims and dtype imply; the read
// must give exactly that. `file_for_errors` names the model in messages.
std::string read_external_data(const std::string& model_dir, const ExternalDataRef& ref, uint64_t expected_bytes,
                               const std::string& file_for_errors, const std::string& tensor_name);

// Writes bytes to path atomically. Refuses (Error Input) when path names the same
// file as any of `inputs` (compared by device and inode). Throws Error(Internal) on
// a failed write (disk full etc.), after removing the temp file.
void write_file_atomic(const std::string& path, const std::string& bytes,
                       const std::vector<std::string>& inputs = {});

// True when both paths exist and name the same file (same device and inode).
bool same_file(const std::string& a, const std::string& b);

std::string dirname_of(const std::string& path);   // "." for a bare file name
std::string basename_of(const std::string& path);

}  // namespace mc
