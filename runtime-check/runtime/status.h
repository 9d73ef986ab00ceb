// Status codes of the runtime. The runtime never throws: every fallible call returns a
// Status, which must be looked at ([[nodiscard]]). A Status that is ok carries no
// message and allocates nothing, so run() can return one.
#pragma once
#include <string>
#include <utility>

namespace mcrt {

enum class StatusCode {
  kOk = 0,
  kInvalidModel,     // the file or graph breaks the format spec (docs/runtime-format.md)
  kUnsupported,      // valid ONNX semantics that this runtime does not implement
  kOutOfMemory,      // an allocation failed
  kLimitExceeded,    // a size the model asks for exceeds the configured budget
  kIoError,          // the file could not be opened / mapped
  kInvalidArgument,  // caller error (bad batch size, wrong input index, ...)
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>"
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// printf into a std::string (at most 511 characters), for Status messages.
std::string str_format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

inline Status InvalidModel(std::string m) { return Status(StatusCode::kInvalidModel, std::move(m)); }
inline Status Unsupported(std::string m) { return Status(StatusCode::kUnsupported, std::move(m)); }
inline Status OutOfMemory(std::string m) { return Status(StatusCode::kOutOfMemory, std::move(m)); }

#define MCRT_RETURN_IF_ERROR(expr)      \
  do {                                  \
    ::mcrt::Status _st = (expr);        \
    if (!_st.ok()) return _st;          \
  } while (0)

}  // namespace mcrt
