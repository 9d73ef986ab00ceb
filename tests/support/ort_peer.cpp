#include "tests/support/ort_peer.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "tests/support/run_process.h"

namespace mc::test {
namespace {

const std::string kRepo = MC_SOURCE_DIR;

bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// MC_NODE, else the first executable "node" on PATH; "" if none.
std::string node_path() {
  if (const char* env = std::getenv("MC_NODE")) return ::access(env, X_OK) == 0 ? env : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = dirs.find(':', start);
    const std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const std::string cand = (dir.empty() ? "." : dir) + "/node";
    if (is_file(cand) && ::access(cand.c_str(), X_OK) == 0) return cand;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

std::string tool_path() { return kRepo + "/tests/peers/ort_run.js"; }
std::string ort_package() { return kRepo + "/.deps/ort/node_modules/onnxruntime-node/package.json"; }

// A private temp dir, removed (with its files and one level of subdirs) on scope exit.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/mc_ort_peer_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("run_in_ort: mkdtemp failed in " + tmpl);
    path_ = buf.data();
  }
  ~TempDir() { remove_tree(path_, 2); }
  const std::string& path() const { return path_; }

 private:
  static void remove_tree(const std::string& dir, int depth) {
    if (DIR* d = ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        const std::string p = dir + "/" + n;
        struct stat st {};
        if (::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
          if (depth > 0) remove_tree(p, depth - 1);
        } else {
          std::remove(p.c_str());
        }
      }
      ::closedir(d);
    }
    ::rmdir(dir.c_str());
  }
  std::string path_;
};

}  // namespace

bool ort_available() { return !node_path().empty() && is_file(tool_path()) && is_file(ort_package()); }

std::map<std::string, NpyArray> run_in_ort(const std::string& model_path, const std::map<std::string, NpyArray>& inputs) {
  const std::string node = node_path();
  if (node.empty()) throw std::runtime_error("run_in_ort: node not found (PATH or MC_NODE)");
  if (!is_file(ort_package())) throw std::runtime_error("run_in_ort: onnxruntime-node missing; run scripts/setup.sh");
  TempDir tmp;
  std::vector<std::string> argv = {node, tool_path(), model_path};
  int i = 0;
  for (const auto& [name, array] : inputs) {
    const std::string file = tmp.path() + "/in" + std::to_string(i++) + ".npy";
    const mcrt::NpyStatus st = mcrt::npy_write_file(file, array);
    if (!st.ok()) throw std::runtime_error("run_in_ort: input '" + name + "': " + st.message());
    argv.push_back("--in");
    argv.push_back(name + "=" + file);
  }
  const std::string out_dir = tmp.path() + "/out";
  argv.push_back("--out-dir");
  argv.push_back(out_dir);
  const ProcessResult r = run_process(argv, 600.0);
  if (r.exit_code != 0) {
    std::string err = r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    throw std::runtime_error("run_in_ort: ort_run.js failed (exit " + std::to_string(r.exit_code) +
                             (r.timed_out ? ", timed out" : "") + "): " + err);
  }
  // outputs.tsv: "<file>\t<output name>" per output, in model order.
  std::ifstream manifest(out_dir + "/outputs.tsv");
  if (!manifest) throw std::runtime_error("run_in_ort: ort_run.js wrote no outputs.tsv");
  std::map<std::string, NpyArray> outputs;
  std::string line;
  while (std::getline(manifest, line)) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || line.find('/') < tab) throw std::runtime_error("run_in_ort: bad outputs.tsv line: " + line);
    NpyArray a;
    const mcrt::NpyStatus st = mcrt::npy_read_file(out_dir + "/" + line.substr(0, tab), &a);
    if (!st.ok()) throw std::runtime_error("run_in_ort: " + st.message());
    outputs[line.substr(tab + 1)] = std::move(a);
  }
  return outputs;
}

}  // namespace mc::test
