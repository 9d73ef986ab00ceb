// Runs a program the way a user's shell would, for end-to-end tests of the CLI:
// no shell (argv is passed as is), stdin from /dev/null, stdout and stderr
// captured separately, with a timeout after which the child is killed.
#pragma once
#include <string>
#include <vector>

namespace mc::test {

struct ProcessResult {
  int exit_code = -1;      // the child's exit status; -1 when it did not exit normally
  int term_signal = 0;     // the signal that ended it, 0 if none
  bool timed_out = false;  // killed (SIGKILL) after the timeout
  std::string out;         // everything written to stdout
  std::string err;         // everything written to stderr
};

// argv[0] is the program's path (no PATH lookup). Throws std::runtime_error when
// the program cannot be started at all.
ProcessResult run_process(const std::vector<std::string>& argv, double timeout_seconds = 120.0);

}  // namespace mc::test
