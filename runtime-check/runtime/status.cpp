#include "runtime/status.h"

#include <cstdarg>
#include <cstdio>

namespace mcrt {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidModel: return "invalid model";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kOutOfMemory: return "out of memory";
    case StatusCode::kLimitExceeded: return "limit exceeded";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kInvalidArgument: return "invalid argument";
  }
  return "unknown";
}

std::string str_format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(status_code_name(code_)) + ": " + message_;
}

}  // namespace mcrt
