// The training loop shared by finetune and distill (trainer.h): deterministic
// shuffles, masked updates, learning-rate schedules, checkpoints.
#include "distill/trainer.h"

#include <cmath>
#include <random>
#include <sstream>

#include "compress/error.h"
#include "compress/io/file_io.h"
#include "distill/distributed.h"
#include "distill/ir_executor.h"

namespace mc::distill {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Per-batch loss: returns the loss tensor and adds correct predictions to *correct.
using LossFn = std::function<at::Tensor(const at::Tensor& logits, const at::Tensor& idx, int64_t* correct)>;

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

double lr_at(const TrainOptions& o, int epoch0, size_t step, size_t steps) {
  switch (o.schedule) {
    case Schedule::kConstant:
      return o.lr;
    case Schedule::kCosine: {
      const double total = static_cast<double>(o.epochs) * static_cast<double>(steps);
      const double t = static_cast<double>(epoch0) * static_cast<double>(steps) + static_cast<double>(step);
      return o.lr * 0.5 * (1.0 + std::cos(kPi * t / total));
    }
    case Schedule::kStep: {
      double lr = o.lr;
      if (epoch0 >= o.epochs / 2 && o.epochs >= 2) lr *= 0.1;
      if (epoch0 >= (3 * o.epochs) / 4 && o.epochs >= 4) lr *= 0.1;
      return lr;
    }
  }
  return o.lr;
}

std::vector<int64_t> shuffled(size_t n, uint64_t seed, int epoch0) {
  std::vector<int64_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(i);
  std::mt19937_64 rng(seed + static_cast<uint64_t>(epoch0) * 0x9E3779B97F4A7C15ull);
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(rng() % i);
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

std::string fingerprint(const IrExecutor& ex, const TrainOptions& o, const std::string& mode) {
  std::ostringstream f;
  f << mode << ";opt=" << static_cast<int>(o.optimizer) << ";sched=" << static_cast<int>(o.schedule) << ";lr=" << o.lr
    << ";bs=" << o.batch_size << ";mom=" << o.momentum << ";wd=" << o.weight_decay << ";seed=" << o.seed
    << ";epochs=" << o.epochs;
  const auto t = ex.trainable();
  for (size_t i = 0; i < t.size(); ++i) f << ";" << ex.trainable_names()[i] << shape_str(t[i].sizes().vec());
  return f.str();
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const IrExecutor& ex, const TrainOptions& o) {
  if (o.optimizer == Optimizer::kAdam)
    return std::make_unique<torch::optim::Adam>(ex.trainable(),
                                                torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  return std::make_unique<torch::optim::SGD>(
      ex.trainable(), torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
}

void save_checkpoint(const std::string& path, const IrExecutor& ex, torch::optim::Optimizer& opt, int epochs_done,
                     const std::string& fp) {
  torch::serialize::OutputArchive ar;
  ar.write("epochs_done", c10::IValue(static_cast<int64_t>(epochs_done)));
  ar.write("fingerprint", c10::IValue(fp));
  const auto t = ex.trainable();
  for (size_t i = 0; i < t.size(); ++i) ar.write("param_" + std::to_string(i), t[i].detach());
  torch::serialize::OutputArchive oa;
  opt.save(oa);
  ar.write("optimizer", oa);
  std::ostringstream os;
  ar.save_to(os);
  write_file_atomic(path, os.str());
}

int load_checkpoint(const std::string& path, IrExecutor& ex, torch::optim::Optimizer& opt, const std::string& fp) {
  const std::string bytes = read_file_bounded(path, 4ull << 30);
  try {
    torch::serialize::InputArchive ar;
    ar.load_from(bytes.data(), bytes.size());
    c10::IValue v;
    if (!ar.try_read("fingerprint", v) || !v.isString()) throw_input_error(path, "not an mcompress training checkpoint");
    if (v.toStringRef() != fp)
      throw_input_error(path, "the checkpoint was made for another model or other training options");
    if (!ar.try_read("epochs_done", v) || !v.isInt()) throw_input_error(path, "checkpoint without an epoch count");
    const int done = static_cast<int>(v.toInt());
    auto t = ex.trainable();
    torch::NoGradGuard ng;
    for (size_t i = 0; i < t.size(); ++i) {
      at::Tensor p;
      ar.read("param_" + std::to_string(i), p);
      if (!p.sizes().equals(t[i].sizes())) throw_input_error(path, "checkpoint tensor shapes do not match the model");
      t[i].copy_(p);
    }
    torch::serialize::InputArchive oa;
    ar.read("optimizer", oa);
    opt.load(oa);
    return done;
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    throw_input_error(path, "unreadable checkpoint (" + msg + ")");
  }
}

void train_loop(Model& m, IrExecutor& ex, const data::Dataset& data, const TrainOptions& o, const std::string& mode,
                const LossFn& loss_fn, TrainReport* report) {
  if (o.epochs < 1) throw Error(ErrorKind::Input, "--epochs must be at least 1");
  if (o.batch_size < 1) throw Error(ErrorKind::Input, "--batch-size must be at least 1");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw Error(ErrorKind::Input, "--lr must be a positive number");
  const size_t n = data.num_samples();
  if (n == 0) throw Error(ErrorKind::Input, "the data set is empty");
  std::vector<int64_t> shape = {static_cast<int64_t>(n)};
  for (int64_t d : data.sample_shape()) shape.push_back(d);
  const at::Tensor all = torch::from_blob(const_cast<float*>(data.data().data()), shape, at::kFloat);

  const DistOptions& dist = o.dist;
  if (dist.world_size < 1 || dist.rank < 0 || dist.rank >= dist.world_size)
    throw Error(ErrorKind::Input, "--rank must be in [0, --world-size)");
  std::unique_ptr<GradientGroup> group;
  if (dist.world_size > 1) group = std::make_unique<GradientGroup>(dist);
  auto opt = make_optimizer(ex, o);
  const std::string fp = fingerprint(ex, o, mode);
  int first = 0;
  if (o.resume) {
    if (o.checkpoint.empty()) throw Error(ErrorKind::Input, "--resume needs --checkpoint");
    first = load_checkpoint(o.checkpoint, ex, *opt, fp);
  }
  report->first_epoch = first + 1;
  report->trainable = ex.trainable_count();
  report->masked = ex.masked_weights();
  const size_t bs = static_cast<size_t>(o.batch_size);
  const size_t steps = (n + bs - 1) / bs;
  for (int e = first; e < o.epochs; ++e) {
    const std::vector<int64_t> perm = shuffled(n, o.seed, e);
    double loss_sum = 0;
    int64_t correct = 0;
    double lr = o.lr;
    for (size_t s = 0; s < steps; ++s) {
      lr = lr_at(o, e, s, steps);
      for (auto& g : opt->param_groups()) g.options().set_lr(lr);
      const size_t begin = s * bs, count = std::min(bs, n - begin);
      // This process's slice of the global batch.
      const size_t w = static_cast<size_t>(dist.world_size), r = static_cast<size_t>(dist.rank);
      const size_t lb = begin + count * r / w, le = begin + count * (r + 1) / w;
      opt->zero_grad();
      double lv = 0;
      if (le > lb) {
        const at::Tensor idx = torch::from_blob(const_cast<int64_t*>(perm.data() + lb), {static_cast<int64_t>(le - lb)},
                                                at::kLong);
        const at::Tensor x = all.index_select(0, idx);
        const at::Tensor logits = ex.forward(x);
        at::Tensor loss = loss_fn(logits, idx, &correct);
        if (w > 1) loss = loss * (static_cast<double>(le - lb) / static_cast<double>(count));
        loss.backward();
        lv = loss.item<double>();
      }
      if (group) {
        // DDP: sum the (already scaled) gradients of every process, in one flat tensor.
        std::vector<at::Tensor> grads;
        for (auto& p : ex.trainable())
          grads.push_back(p.grad().defined() ? p.grad().reshape({-1}) : at::zeros({p.numel()}, p.options()));
        at::Tensor flat = at::cat(grads).contiguous();
        group->allreduce_sum(flat);
        int64_t off = 0;
        for (auto& p : ex.trainable()) {
          at::Tensor g = flat.narrow(0, off, p.numel()).view(p.sizes());
          if (p.grad().defined()) p.mutable_grad().copy_(g);
          else p.mutable_grad() = g.clone();
          off += p.numel();
        }
      }
      ex.mask_gradients();
      opt->step();
      ex.apply_masks();
      if (!std::isfinite(lv))
        throw Error(ErrorKind::Gate, "the training loss became " + std::to_string(lv) + " at epoch " +
                                         std::to_string(e + 1) + "; lower --lr");
      loss_sum += lv * static_cast<double>(count);
      if (o.on_batch) o.on_batch(e + 1, s + 1, steps);
    }
    if (group) {  // epoch figures over all processes
      at::Tensor t = at::tensor({loss_sum, static_cast<double>(correct)}, at::kFloat);
      group->allreduce_sum(t);
      loss_sum = t[0].item<double>();
      correct = static_cast<int64_t>(std::llround(t[1].item<double>()));
    }
    EpochReport r;
    r.epoch = e + 1;
    r.loss = loss_sum / static_cast<double>(n);
    r.accuracy = correct >= 0 ? static_cast<double>(correct) / static_cast<double>(n) : -1;
    r.lr = lr;
    report->epochs.push_back(r);
    if (!o.checkpoint.empty() && dist.rank == 0) save_checkpoint(o.checkpoint, ex, *opt, e + 1, fp);
    if (o.on_epoch) o.on_epoch(r);
  }
  ex.write_back(m);
}

int64_t count_correct(const at::Tensor& logits, const at::Tensor& target) {
  return logits.argmax(1).eq(target).sum().item<int64_t>();
}

at::Tensor labels_tensor(const data::Dataset& d) {
  return torch::from_blob(const_cast<int64_t*>(d.labels().data()), {static_cast<int64_t>(d.labels().size())},
                          at::kLong);
}

void check_labels(const data::Dataset& d, int64_t classes) {
  for (int64_t v : d.labels())
    if (v < 0 || v >= classes)
      throw Error(ErrorKind::Input, "a label (" + std::to_string(v) + ") is outside the model's " +
                                        std::to_string(classes) + " outputs");
}

}  // namespace

void finetune(Model& m, const data::Dataset& data, const TrainOptions& o, TrainReport* report) {
  if (!data.has_labels()) throw Error(ErrorKind::Input, "finetune needs labels (--labels, or y in an .npz)");
  make_deterministic(o.seed);
  const std::string file = m.source_files.empty() ? "model" : m.source_files[0];
  IrExecutor ex(m, file);
  const at::Tensor labels = labels_tensor(data);
  {
    torch::NoGradGuard ng;
    std::vector<int64_t> shape = {1};
    for (int64_t d : data.sample_shape()) shape.push_back(d);
    const at::Tensor y = ex.forward(torch::from_blob(const_cast<float*>(data.data().data()), shape, at::kFloat));
    if (y.dim() != 2) throw_input_error(file, "the output is " + shape_str(y.sizes().vec()) + ", not [N, classes]");
    check_labels(data, y.size(1));
  }
  train_loop(m, ex, data, o, "finetune", [&](const at::Tensor& logits, const at::Tensor& idx, int64_t* correct) {
    const at::Tensor y = labels.index_select(0, idx);
    *correct += count_correct(logits.detach(), y);
    return at::cross_entropy_loss(logits, y);
  }, report);
}

void distill(Model& student, const Model& teacher, const data::Dataset& data, const TrainOptions& o,
             const DistillOptions& d, TrainReport* report) {
  if (!(d.temperature > 0) || !std::isfinite(d.temperature)) throw Error(ErrorKind::Input, "--temperature must be > 0");
  if (!(d.alpha >= 0 && d.alpha <= 1)) throw Error(ErrorKind::Input, "--alpha must be in [0, 1]");
  if (!data.has_labels() && d.alpha < 1)
    throw Error(ErrorKind::Input, "--alpha " + std::to_string(d.alpha) +
                                      " weighs labels, but the data has none (give --labels, or --alpha 1)");
  make_deterministic(o.seed);
  const std::string sname = student.source_files.empty() ? "student" : student.source_files[0];
  const std::string tname = teacher.source_files.empty() ? "teacher" : teacher.source_files[0];
  IrExecutor ex(student, sname);
  const IrExecutor tex(teacher, tname);
  const size_t n = data.num_samples();
  std::vector<int64_t> shape = {static_cast<int64_t>(n)};
  for (int64_t dim : data.sample_shape()) shape.push_back(dim);
  const at::Tensor all = torch::from_blob(const_cast<float*>(data.data().data()), shape, at::kFloat);
  int64_t classes = 0;
  {
    torch::NoGradGuard ng;
    const at::Tensor one = all.narrow(0, 0, 1);
    const auto ts = tex.forward(one).sizes().vec(), ss = ex.forward(one).sizes().vec();
    if (ts != ss)
      throw Error(ErrorKind::Input, tname + " and " + sname + ": the teacher's output " + shape_str(ts) +
                                        " and the student's " + shape_str(ss) + " differ");
    if (ss.size() != 2) throw_input_error(sname, "the output is " + shape_str(ss) + ", not [N, classes]");
    classes = ss[1];
  }
  if (data.has_labels()) check_labels(data, classes);
  // Teacher logits: all at once when they fit the cache budget, else per batch.
  at::Tensor cache;
  if (static_cast<uint64_t>(n) * static_cast<uint64_t>(classes) * 4 <= d.cache_bytes) {
    torch::NoGradGuard ng;
    std::vector<at::Tensor> parts;
    for (size_t b = 0; b < n; b += 256)
      parts.push_back(tex.forward(all.narrow(0, static_cast<int64_t>(b), static_cast<int64_t>(std::min<size_t>(256, n - b)))));
    cache = at::cat(parts, 0);
  }
  const at::Tensor labels = data.has_labels() ? labels_tensor(data) : at::Tensor();
  const double T = d.temperature, alpha = d.alpha;
  train_loop(student, ex, data, o, "distill;T=" + std::to_string(T) + ";alpha=" + std::to_string(alpha),
             [&](const at::Tensor& logits, const at::Tensor& idx, int64_t* correct) {
               at::Tensor t;
               if (cache.defined()) {
                 t = cache.index_select(0, idx);
               } else {
                 torch::NoGradGuard ng;
                 t = tex.forward(all.index_select(0, idx));
               }
               const int64_t bsz = logits.size(0);
               const at::Tensor log_ps = at::log_softmax(logits / T, 1);
               const at::Tensor log_pt = at::log_softmax(t / T, 1);
               const at::Tensor kl = (log_pt.exp() * (log_pt - log_ps)).sum() / static_cast<double>(bsz);
               at::Tensor loss = kl * (alpha * T * T);
               if (labels.defined()) {
                 const at::Tensor y = labels.index_select(0, idx);
                 if (alpha < 1) loss = loss + at::cross_entropy_loss(logits, y) * (1 - alpha);
                 *correct += count_correct(logits.detach(), y);
               } else {
                 *correct += count_correct(logits.detach(), t.argmax(1));
               }
               return loss;
             },
             report);
}

}  // namespace mc::distill
