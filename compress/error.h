// The toolchain's one exception type. Library code throws it; cli/ catches it
// once and turns it into a single line on stderr plus the exit code below.
#pragma once
#include <stdexcept>
#include <string>

namespace mc {

enum class ErrorKind {
  Input = 2,     // bad input or usage: a malformed file, an unsupported op, a wrong flag
  Gate = 1,      // a check or gate failed (accuracy drop, NaN in output)
  Internal = 3,  // a bug or an environment failure (disk full, out of memory)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const { return static_cast<int>(kind_); }

 private:
  ErrorKind kind_;
};

// "<file>: <problem>" — the shape of every input error message.
[[noreturn]] inline void throw_input_error(const std::string& file, const std::string& problem) {
  throw Error(ErrorKind::Input, file.empty() ? problem : file + ": " + problem);
}

}  // namespace mc
