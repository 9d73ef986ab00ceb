// mcompress check: measure a model on the bundled runtime (size, memory, latency,
// accuracy, fidelity vs a reference) and enforce gates. Parsing and printing only;
// the measurements live in runtime-check/check (mc_check).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "cli/command.h"
#include "cli/data_options.h"
#include "cli/text_format.h"
#include "compress/error.h"
#include "runtime-check/check/check_harness.h"

namespace mc::cli {
namespace {

struct CheckArgs {
  check::CheckOptions opt;
  std::vector<std::string> models;  // one: the full report; several: one table, side by side
  DataArgs dataset;
  double min_accuracy = -1, min_agreement = -1, max_accuracy_drop = -1;
  bool max_accuracy_drop_given = false;
  bool json = false;
};

nlohmann::ordered_json to_json(const check::CheckReport& r, bool with_steps) {
  nlohmann::ordered_json j;
  j["model"] = r.model;
  j["format"] = r.format;
  j["size"] = {{"file_bytes", r.file_bytes}, {"runtime_file_bytes", r.runtime_file_bytes}, {"gzip_bytes", r.gzip_bytes}};
  j["memory"] = {{"weight_bytes", r.weight_bytes}, {"decoded_bytes", r.decoded_bytes}, {"arena_bytes", r.arena_bytes}};
  j["size"]["weight_disk_bytes"] = r.weight_disk_bytes;
  j["input"] = {{"name", r.input_name}, {"shape", r.input_shape}};
  j["output"] = {{"name", r.output_name}, {"shape", r.output_shape}};
  j["latency"] = {{"batch", r.batch},   {"threads", r.threads}, {"kernels", r.kernel_set}, {"runs", r.runs},
                  {"warmup", r.warmup}, {"p50_ms", r.p50_ms},   {"p90_ms", r.p90_ms},      {"min_ms", r.min_ms}};
  if (r.accuracy) {
    const auto& a = *r.accuracy;
    nlohmann::ordered_json ja{{"samples", a.samples}, {"classes", a.classes}, {"top1", a.top1},
                              {"top1_correct", a.top1_correct}};
    if (a.top5) {
      ja["top5"] = *a.top5;
      ja["top5_correct"] = *a.top5_correct;
    }
    j["accuracy"] = ja;
  } else {
    j["accuracy"] = nullptr;
  }
  if (r.fidelity) {
    const auto& f = *r.fidelity;
    j["fidelity"] = {{"reference", f.reference},
                     {"inputs", f.inputs},
                     {"samples", f.samples},
                     {"agreement", f.agreement},
                     {"agree", f.agree},
                     {"max_abs_error", f.max_abs_error},
                     {"snr_db", f.snr_db ? nlohmann::ordered_json(*f.snr_db) : nlohmann::ordered_json(nullptr)}};
    if (f.reference_top1) j["fidelity"]["reference_top1"] = *f.reference_top1;
  } else {
    j["fidelity"] = nullptr;
  }
  if (with_steps) {
    j["steps"] = nlohmann::ordered_json::array();
    for (const auto& s : r.steps) j["steps"].push_back({{"node", s.node_index}, {"op", s.op}, {"kernel", s.kernel}, {"p50_us", s.p50_us}});
  }
  return j;
}

void print_text(const check::CheckReport& r, bool verbose) {
  auto row = [](const std::string& k, const std::string& v) { std::cout << "  " << pad(k, 18) << v << "\n"; };
  std::cout << "check " << r.model << " (" << (r.format == "onnx" ? "ONNX, optimized and exported in memory" : ".mcrt")
            << ")\n";
  row("file bytes", thousands(r.file_bytes) + (r.format == "onnx" ? " (ONNX on disk)" : ""));
  row("runtime bytes", thousands(r.runtime_file_bytes) + " (.mcrt), gzip -9 " + thousands(r.gzip_bytes));
  row("weight bytes", thousands(r.weight_disk_bytes) + " on disk (.mcrt weight buffers), " +
                          thousands(r.weight_bytes) + " in memory after prepare" +
                          (r.decoded_bytes ? " (" + thousands(r.decoded_bytes) + " decoded at load)" : ""));
  row("arena bytes", thousands(r.arena_bytes) + " peak at batch " + std::to_string(r.batch));
  row("input", r.input_name + " " + shape_text(r.input_shape) + ", output " + r.output_name + " " +
                   shape_text(r.output_shape));
  row("latency ms", "p50 " + fixed(r.p50_ms, 3) + "  p90 " + fixed(r.p90_ms, 3) + "  min " + fixed(r.min_ms, 3) +
                        "  (batch " + std::to_string(r.batch) + ", " + std::to_string(r.threads) + " thread" +
                        (r.threads == 1 ? "" : "s") + ", " + r.kernel_set + ", " + std::to_string(r.runs) +
                        " runs after " + std::to_string(r.warmup) + " warm-up)");
  if (r.accuracy) {
    const auto& a = *r.accuracy;
    std::string v = "top-1 " + fixed(a.top1, 2) + "% (" + std::to_string(a.top1_correct) + "/" +
                    std::to_string(a.samples) + ")";
    if (a.top5) v += "  top-5 " + fixed(*a.top5, 2) + "% (" + std::to_string(*a.top5_correct) + "/" +
                     std::to_string(a.samples) + ")";
    row("accuracy", v);
  }
  if (r.fidelity) {
    const auto& f = *r.fidelity;
    row("fidelity", "vs " + f.reference + " on " + std::to_string(f.samples) + " " +
                        (f.inputs == "data" ? "data samples" : "random inputs"));
    row("  agreement", "top-1 " + fixed(f.agreement, 2) + "% (" + std::to_string(f.agree) + "/" +
                           std::to_string(f.samples) + ")");
    row("  max abs error", sci(f.max_abs_error));
    row("  SNR", f.snr_db ? fixed(*f.snr_db, 1) + " dB" : std::string("inf (identical outputs)"));
    if (f.reference_top1 && r.accuracy) {
      const double d = r.accuracy->top1 - *f.reference_top1;
      row("  reference top-1", fixed(*f.reference_top1, 2) + "% (this model " + (d >= 0 ? "+" : "") + fixed(d, 2) +
                                   " points)");
    }
  }
  for (const auto& n : r.export_notes) row("export note", n);
  if (verbose) {
    std::cout << "  kernels per node:\n";
    for (const auto& s : r.steps)
      std::cout << "    " << pad("#" + std::to_string(s.node_index), 5) << pad(s.op, 20) << pad(fixed(s.p50_us, 1) + " us", 11)
                << s.kernel << "\n";
  }
}

// Several models checked with the same options, one row each; the first is the baseline of the
// "vs first" columns (put the original there to compare recipes against it).
void print_table(const std::vector<check::CheckReport>& rs) {
  const check::CheckReport& b = rs.front();
  std::cout << "check, " << rs.size() << " models on the bundled runtime (batch " << b.batch << ", " << b.threads
            << " thread" << (b.threads == 1 ? "" : "s") << ", " << b.kernel_set << ", p50 of " << b.runs << " runs)";
  if (b.accuracy) std::cout << "; accuracy on " << b.accuracy->samples << " samples";
  if (b.fidelity) std::cout << "; fidelity vs " << b.fidelity->reference;
  std::cout << "\n";
  std::cout << "| model | file bytes | vs first | runtime bytes | gzip -9 | weights in memory | arena | p50 ms | vs first |"
            << (b.accuracy ? " top-1 % |" : "") << (b.fidelity ? " agreement % | SNR dB |" : "") << "\n";
  std::cout << "|---|---:|---:|---:|---:|---:|---:|---:|---:|" << (b.accuracy ? "---:|" : "")
            << (b.fidelity ? "---:|---:|" : "") << "\n";
  auto ratio = [](double x, double base) { return base > 0 ? fixed(x / base, 2) + "x" : std::string("-"); };
  for (const auto& r : rs) {
    std::cout << "| " << r.model << " | " << thousands(r.file_bytes) << " | " << ratio(double(r.file_bytes), double(b.file_bytes))
              << " | " << thousands(r.runtime_file_bytes) << " | " << thousands(r.gzip_bytes) << " | "
              << thousands(r.weight_bytes) << " | " << thousands(r.arena_bytes) << " | " << fixed(r.p50_ms, 4) << " | "
              << ratio(r.p50_ms, b.p50_ms) << " |";
    if (b.accuracy) std::cout << " " << (r.accuracy ? fixed(r.accuracy->top1, 2) : std::string("-")) << " |";
    if (b.fidelity) {
      std::cout << " " << (r.fidelity ? fixed(r.fidelity->agreement, 2) : std::string("-")) << " | "
                << (r.fidelity ? (r.fidelity->snr_db ? fixed(*r.fidelity->snr_db, 1) : std::string("inf")) : std::string("-"))
                << " |";
    }
    std::cout << "\n";
  }
}

int run_check_verb(CheckArgs a, const Globals& g) {
  a.opt.data = to_dataset_options(a.dataset, "check");
  if (a.dataset.limit && !a.opt.data) a.opt.random_samples = a.dataset.limit;
  if (a.min_accuracy >= 0 && !a.opt.data) throw Error(ErrorKind::Input, "check: --min-accuracy needs --data with labels");
  if (a.min_agreement >= 0 && a.opt.reference.empty() && a.opt.reference_outputs.empty())
    throw Error(ErrorKind::Input, "check: --min-agreement needs --reference or --reference-outputs");
  if (a.max_accuracy_drop_given && !(a.max_accuracy_drop >= 0))
    throw Error(ErrorKind::Input, "check: --max-accuracy-drop " + fixed(a.max_accuracy_drop, 2) +
                                      ": expected a number of points >= 0");
  if (a.max_accuracy_drop >= 0 && (!a.opt.data || (a.opt.reference.empty() && a.opt.reference_outputs.empty())))
    throw Error(ErrorKind::Input, "check: --max-accuracy-drop needs --data with labels and --reference or --reference-outputs");

  // Every model is checked before anything is printed: a bad file among several is exit 2 with
  // its one line, and no partial table.
  std::vector<check::CheckReport> reports;
  for (const auto& m : a.models) {
    check::CheckOptions o = a.opt;
    o.model = m;
    reports.push_back(check::run_check(o));
  }
  // Gates that need labels are refused before anything is printed.
  for (const auto& r : reports) {
    if (a.min_accuracy >= 0 && !r.accuracy) throw Error(ErrorKind::Input, "check: --min-accuracy needs labels for the data");
    if (a.max_accuracy_drop >= 0 && (!r.accuracy || !r.fidelity || !r.fidelity->reference_top1))
      throw Error(ErrorKind::Input, "check: --max-accuracy-drop needs labels for the data");
  }
  const bool several = reports.size() > 1;
  if (a.json || g.json) {
    if (several) {
      nlohmann::ordered_json j;
      j["models"] = nlohmann::ordered_json::array();
      for (const auto& r : reports) j["models"].push_back(to_json(r, g.verbosity > 0));
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << to_json(reports.front(), g.verbosity > 0).dump(2) << "\n";
    }
  } else if (several) {
    print_table(reports);
  } else {
    print_text(reports.front(), g.verbosity > 0);
  }

  // Gates: exit 1 with one line each on stderr (naming the model when there are several).
  int rc = 0;
  for (const auto& r : reports) {
    const std::string who = several ? r.model + ": " : "";
    if (a.min_accuracy >= 0) {
      if (r.accuracy->top1 < a.min_accuracy) {
        std::cerr << "mcompress: check failed: " << who << "top-1 accuracy " << fixed(r.accuracy->top1, 2)
                  << "% is below --min-accuracy " << fixed(a.min_accuracy, 2) << "%\n";
        rc = 1;
      }
    }
    if (a.max_accuracy_drop >= 0) {
      const double drop = *r.fidelity->reference_top1 - r.accuracy->top1;
      if (drop > a.max_accuracy_drop) {
        std::cerr << "mcompress: check failed: " << who << "top-1 accuracy " << fixed(r.accuracy->top1, 2) << "% is "
                  << fixed(drop, 2) << " points below the reference's " << fixed(*r.fidelity->reference_top1, 2)
                  << "% (--max-accuracy-drop " << fixed(a.max_accuracy_drop, 2) << ")\n";
        rc = 1;
      }
    }
    if (a.min_agreement >= 0 && r.fidelity && r.fidelity->agreement < a.min_agreement) {
      std::cerr << "mcompress: check failed: " << who << "top-1 agreement " << fixed(r.fidelity->agreement, 2)
                << "% with the reference is below --min-agreement " << fixed(a.min_agreement, 2) << "%\n";
      rc = 1;
    }
  }
  return rc;
}

}  // namespace

CLI::App* add_check(CLI::App& root, Action* action) {
  auto a = std::make_shared<CheckArgs>();
  CLI::App* sub = root.add_subcommand(
      "check", "Measure a model on the bundled runtime: size, memory, latency, accuracy, fidelity vs a reference");
  sub->add_option("model", a->models,
                  "Model(s) to check: ONNX (optimized and exported in memory) or .mcrt; several give one table, "
                  "side by side, with ratios against the first")
      ->required();
  sub->add_option("--reference", a->opt.reference, "Reference model (ONNX or .mcrt) run on the same inputs");
  sub->add_option("--reference-outputs", a->opt.reference_outputs,
                  "Reference outputs (.npy, [samples, ...]) computed elsewhere on the same --data (e.g. ONNX Runtime)");
  add_data_options(*sub, a->dataset, DataRequirement::Optional, "Use only the first N samples (random inputs: N samples)");
  sub->add_option("--batch", a->opt.batch, "Batch size for latency and memory (default 1)");
  sub->add_option("--runs", a->opt.runs, "Timed runs (default 50)");
  sub->add_option("--warmup", a->opt.warmup, "Untimed runs first (default 5)");
  sub->add_option("--threads", a->opt.threads, "Runtime threads (default 1)");
  sub->add_option("--seed", a->opt.seed, "Seed of the random inputs (default 0)");
  sub->add_option("--min-accuracy", a->min_accuracy, "Gate: exit 1 when top-1 accuracy (%) is below this");
  sub->add_option("--min-agreement", a->min_agreement, "Gate: exit 1 when top-1 agreement (%) with the reference is below this");
  sub->add_option("--max-accuracy-drop", a->max_accuracy_drop,
                  "Gate: exit 1 when top-1 is more than this many points below the reference's own top-1 on the same "
                  "labelled data (needs --reference or --reference-outputs)")
      ->each([a](const std::string&) { a->max_accuracy_drop_given = true; });
  sub->add_flag("--json", a->json, "Print the result as JSON on stdout");
  sub->footer(
      "Example:\n"
      "  mcompress check model.onnx --data t10k-images-idx3-ubyte.gz --labels t10k-labels-idx1-ubyte.gz \\\n"
      "      --mean 0.2860 --std 0.3530 --reference original.onnx --min-agreement 99\n"
      "  mcompress check original.onnx pruned.mcrt int8.mcrt --data t10k-images-idx3-ubyte.gz \\\n"
      "      --labels t10k-labels-idx1-ubyte.gz --mean 0.2860 --std 0.3530 --reference original.onnx\n"
      "-v adds the kernel chosen for every node. Exit codes: 0 ok, 1 a gate failed, 2 bad input, 3 internal error.");
  sub->callback([a, action]() { *action = [a](const Globals& g) { return run_check_verb(*a, g); }; });
  return sub;
}

}  // namespace mc::cli
