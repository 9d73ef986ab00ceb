// Prepare and run. The order of prepare:
//   1. materialize the constants that nodes read (runtime/weights.cpp)
//   2. resolve graph input shapes with the batch size
//   3. fuse Relu/Clip into a preceding Conv/Gemm whose output has no other reader
//   4. prepare each step in order (op table): output shapes, kernel choice, packing
//   5. lifetimes -> one arena (runtime/arena_planner.cpp), allocated once
#include "runtime/interpreter.h"

#include <cstdlib>
#include <chrono>
#include <cstring>
#include <new>

#include "runtime/op_registry.h"
#include "runtime/plan.h"
#include "runtime/thread_pool.h"
#include "runtime/weights.h"

namespace mcrt {

struct Interpreter::Impl {
  const Model* model = nullptr;
  const KernelSet* kernels = nullptr;
  std::vector<TensorPlan> tensors;
  std::vector<NodePlan> steps;
  WeightStore weights;
  ThreadPool pool;
  uint8_t* arena = nullptr;
  std::vector<ArenaBufferInfo> buffers;
  ~Impl() { std::free(arena); }
};

Status PrepareContext::set_output(const NodePlan& n, size_t k, DType dt, const Shape& shape) {
  TensorPlan& tp = t(n.outputs[k]);
  if (shape.size() > 8) return Status(StatusCode::kUnsupported, node_label(n) + ": output rank > 8 (§7)");
  uint64_t bytes = 0;
  if (!checked_bytes(shape.data(), shape.size(), dtype_size(dt), &bytes))
    return InvalidModel(node_label(n) + ": output shape has a dim outside [0, 2^31-1] or overflows (§4.1)");
  if (bytes > memory_limit)
    return Status(StatusCode::kLimitExceeded, node_label(n) + ": output of " + std::to_string(bytes) +
                                                  " bytes exceeds the memory limit (§7)");
  tp.dtype = dt;
  tp.shape = shape;
  tp.bytes = (size_t)bytes;
  return Status::Ok();
}

Status PrepareContext::const_ints(const NodePlan& n, size_t k, std::vector<int64_t>* out) {
  const TensorPlan& tp = t(n.inputs[k]);
  if (!tp.is_const) return InvalidModel(node_label(n) + ": input " + std::to_string(k) + " must be a constant");
  const int64_t cnt = shape_numel(tp.shape);
  out->resize((size_t)cnt);
  if (tp.dtype == DType::kI64) {
    if (cnt) std::memcpy(out->data(), tp.const_data, (size_t)cnt * 8);
  } else if (tp.dtype == DType::kI32) {
    for (int64_t i = 0; i < cnt; ++i) {
      int32_t v;
      std::memcpy(&v, tp.const_data + 4 * i, 4);
      (*out)[(size_t)i] = v;
    }
  } else {
    return InvalidModel(node_label(n) + ": input " + std::to_string(k) + " must be int64 or int32");
  }
  return Status::Ok();
}

Status PrepareContext::const_floats(const NodePlan& n, size_t k, std::vector<float>* out) {
  const TensorPlan& tp = t(n.inputs[k]);
  if (!tp.is_const || tp.dtype != DType::kF32)
    return InvalidModel(node_label(n) + ": input " + std::to_string(k) + " must be a float32 constant");
  const int64_t cnt = shape_numel(tp.shape);
  out->resize((size_t)cnt);
  if (cnt) std::memcpy(out->data(), tp.const_data, (size_t)cnt * 4);
  return Status::Ok();
}

Status PrepareContext::add_work(const NodePlan& n, double units) {
  work += units;
  if (work > work_limit)
    return Status(StatusCode::kLimitExceeded, node_label(n) + ": the model needs more than " +
                                                  std::to_string((unsigned long long)work_limit) +
                                                  " multiply-adds per run (PrepareOptions::work_limit, §7)");
  return Status::Ok();
}

Status PrepareContext::alloc_weights(size_t bytes, void** out) {
  if (bytes > memory_limit) return Status(StatusCode::kLimitExceeded, "weight block exceeds the memory limit (§7)");
  return weights->alloc(bytes, out);
}

Interpreter::Interpreter() : impl_(new Impl) {}
Interpreter::~Interpreter() = default;

namespace {

// Activation parameters when node `n` is Relu or a Clip with constant bounds.
bool fusable_activation(const NodePlan& n, std::vector<TensorPlan>& tensors, float* lo, float* hi) {
  if (n.op == fb::OpType_Relu) {
    *lo = 0.f;
    *hi = INFINITY;
    return true;
  }
  if (n.op != fb::OpType_Clip) return false;
  *lo = n.attrs.f(fb::AttrKey_min, -INFINITY);
  *hi = n.attrs.f(fb::AttrKey_max, INFINITY);
  for (size_t k = 1; k < 3; ++k) {
    if (k >= n.inputs.size() || n.inputs[k] < 0) continue;
    const TensorPlan& tp = tensors[n.inputs[k]];
    if (!tp.is_const || tp.dtype != DType::kF32 || shape_numel(tp.shape) != 1) return false;
    float v;
    std::memcpy(&v, tp.const_data, 4);
    (k == 1 ? *lo : *hi) = v;
  }
  return true;
}

}  // namespace

Status Interpreter::prepare(const Model& model, const PrepareOptions& opts, std::unique_ptr<Interpreter>* out) {
  // The standard containers used while preparing report allocation failure by throwing;
  // that is the one exception that can arise here, and it leaves as kOutOfMemory.
  try {
    return prepare_impl(model, opts, out);
  } catch (const std::bad_alloc&) {
    return OutOfMemory("allocation failed while preparing the model");
  }
}

Status Interpreter::prepare_impl(const Model& model, const PrepareOptions& opts, std::unique_ptr<Interpreter>* out) {
  if (opts.batch < 1 || opts.batch > (1 << 20))
    return Status(StatusCode::kInvalidArgument, "batch must be in [1, 2^20]");
  std::unique_ptr<Interpreter> it(new (std::nothrow) Interpreter());
  if (!it) return OutOfMemory("interpreter");
  Impl& im = *it->impl_;
  im.model = &model;
  im.kernels = opts.kernels ? opts.kernels : &kernels_best();
  const fb::Model& g = model.graph();
  const uint32_t nt = g.tensors()->size();
  im.tensors.resize(nt);
  for (uint32_t i = 0; i < nt; ++i) {
    const fb::Tensor* t = g.tensors()->Get(i);
    im.tensors[i].name = t->name() && t->name()->size() ? t->name()->str() : "#" + std::to_string(i);  // unnamed: by index
    im.tensors[i].dtype = (DType)t->dtype();
  }
  // 1. constants read by some node (or listed as graph outputs).
  std::vector<char> needed(nt, 0);
  const uint32_t nn = g.nodes() ? g.nodes()->size() : 0;
  for (uint32_t ni = 0; ni < nn; ++ni)
    for (int32_t t : *g.nodes()->Get(ni)->inputs())
      if (t >= 0) needed[t] = 1;
  for (int32_t t : *g.outputs()) needed[t] = 1;
  // int8 weights of the int8 ops (input 1 of QLinearConv, QLinearMatMul, DynamicQuantizeMatMul) stay
  // int8: their quant is the op's weight scale, not a weight-only dequantization (§4.3, §5).
  std::vector<char> int8_weight(nt, 0);
  for (uint32_t ni = 0; ni < nn; ++ni) {
    const fb::Node* n = g.nodes()->Get(ni);
    const bool q = n->op() == fb::OpType_QLinearConv || n->op() == fb::OpType_QLinearMatMul ||
                   n->op() == fb::OpType_DynamicQuantizeMatMul;
    if (q && n->inputs()->size() > 1 && n->inputs()->Get(1) >= 0) int8_weight[n->inputs()->Get(1)] = 1;
  }
  for (uint32_t i = 0; i < nt; ++i) {
    const fb::Tensor* t = g.tensors()->Get(i);
    if (t->quant()) {
      QuantPlan& qp = im.tensors[i].quant;
      qp.scale.assign(t->quant()->scale()->begin(), t->quant()->scale()->end());
      if (t->quant()->zero_point())
        for (int64_t z : *t->quant()->zero_point()) qp.zero_point.push_back((int32_t)z);  // range checked at load
      qp.axis = t->quant()->axis();
    }
    if (!needed[i] || !(t->buffer() || t->sparsity() || t->palette())) continue;
    if (int8_weight[i] && t->dtype() == fb::DType_INT8 && !t->palette()) {
      MCRT_RETURN_IF_ERROR(materialize_int8_weight(model, *t, &im.weights, &im.tensors[i]));
      continue;
    }
    MCRT_RETURN_IF_ERROR(materialize_constant(model, *t, &im.weights, &im.tensors[i]));
  }
  // 2. graph inputs.
  PrepareContext ctx;
  ctx.tensors = &im.tensors;
  ctx.kernels = im.kernels;
  // The reference dense set goes with the reference sparse set (tests); otherwise the best one.
  ctx.sparse_kernels =
      std::strcmp(im.kernels->name, "reference") == 0 ? &sparse_kernels_reference() : &sparse_kernels_best();
  ctx.sparse_policy = opts.sparse;
  ctx.int8_kernels = opts.int8_kernels ? opts.int8_kernels
                     : std::strcmp(im.kernels->name, "reference") == 0 ? &int8_kernels_reference()
                                                                        : &int8_kernels_best();
  ctx.weights = &im.weights;
  ctx.memory_limit = opts.memory_limit;
  ctx.work_limit = (double)opts.work_limit;
  for (int32_t i : *g.inputs()) {
    TensorPlan& tp = im.tensors[i];
    const fb::Tensor* t = g.tensors()->Get(i);
    tp.shape.clear();
    if (t->shape())
      for (int64_t d : *t->shape()) tp.shape.push_back(d == -1 ? opts.batch : d);
    uint64_t bytes = 0;
    if (!checked_bytes(tp.shape.data(), tp.shape.size(), dtype_size(tp.dtype), &bytes) || bytes > opts.memory_limit)
      return Status(StatusCode::kLimitExceeded, "graph input '" + tp.name + "' exceeds the memory limit (§7)");
    tp.bytes = (size_t)bytes;
    it->inputs_.push_back(i);
  }
  for (int32_t o : *g.outputs()) it->outputs_.push_back(o);

  // 3. steps, with activation fusion.
  std::vector<NodePlan> nodes(nn);
  std::vector<int> readers(nt, 0);
  for (uint32_t ni = 0; ni < nn; ++ni) {
    const fb::Node* n = g.nodes()->Get(ni);
    nodes[ni].index = (int)ni;
    nodes[ni].op = n->op();
    nodes[ni].inputs.assign(n->inputs()->begin(), n->inputs()->end());
    nodes[ni].outputs.assign(n->outputs()->begin(), n->outputs()->end());
    nodes[ni].attrs = AttrMap(n);
    for (int t : nodes[ni].inputs)
      if (t >= 0) ++readers[t];
  }
  for (int32_t o : *g.outputs()) ++readers[o];
  std::vector<char> skip(nn, 0);
  std::vector<int> producer(nt, -1);
  for (uint32_t ni = 0; ni < nn; ++ni)
    for (int t : nodes[ni].outputs) producer[t] = (int)ni;
  if (opts.fuse_activations) {
    // 3a. Residual Add: Conv/Gemm output x read only by Add(x, r) (either order), r already
    // computed when the Conv runs (a graph input, a constant or produced by an earlier node), same
    // declared shape as x and as the Add's output (no broadcasting; §4.1 checks the inferred shapes
    // against the declared ones, and the op re-checks at prepare), all fp32. The Add's output
    // becomes the Conv's; r becomes its last input.
    auto declared = [&](int t, std::vector<int64_t>* s) {
      const fb::Tensor* ft = g.tensors()->Get(t);
      if (!ft->shape()) return false;
      s->assign(ft->shape()->begin(), ft->shape()->end());
      return true;
    };
    std::vector<char> is_graph_output(nt, 0);
    for (int32_t o : *g.outputs()) is_graph_output[o] = 1;
    for (uint32_t ni = 0; ni < nn; ++ni) {
      NodePlan& a = nodes[ni];
      if (a.op != fb::OpType_Add || a.inputs.size() != 2 || a.inputs[0] < 0 || a.inputs[1] < 0) continue;
      for (int k = 0; k < 2; ++k) {
        const int x = a.inputs[k], r = a.inputs[1 - k];
        const int p = producer[x];
        if (p < 0 || x == r || readers[x] != 1 || is_graph_output[x] || skip[p] || nodes[p].fused ||
            nodes[p].residual_input >= 0)
          continue;
        if (nodes[p].op != fb::OpType_Conv && nodes[p].op != fb::OpType_Gemm) continue;
        if (producer[r] >= (int)p) continue;  // r must exist before the Conv step runs
        if (im.tensors[x].dtype != DType::kF32 || im.tensors[r].dtype != DType::kF32 ||
            im.tensors[a.outputs[0]].dtype != DType::kF32)
          continue;
        std::vector<int64_t> sx, sr, so;
        if (!declared(x, &sx) || !declared(r, &sr) || !declared(a.outputs[0], &so) || sx != sr || sx != so) continue;
        NodePlan& c = nodes[p];
        while (c.inputs.size() < 3) c.inputs.push_back(-1);  // keep optional inputs at their slots
        c.residual_input = (int)c.inputs.size();
        c.inputs.push_back(r);
        c.residual_node = (int)ni;
        c.outputs[0] = a.outputs[0];
        producer[a.outputs[0]] = p;
        skip[ni] = 1;
        break;
      }
    }
    // 3b. int8 residual: QLinearConv output x read only by QLinearAdd(x, r) (either order), r computed before
    // the conv, x, r and the add's output int8 of one declared shape. The conv still forms x's bytes
    // exactly (with x's quantization, residual_mid) and then applies the add's rule to them in its epilogue.
    for (uint32_t ni = 0; ni < nn; ++ni) {
      NodePlan& a = nodes[ni];
      if (a.op != fb::OpType_QLinearAdd || a.inputs.size() != 2 || a.inputs[0] < 0 || a.inputs[1] < 0) continue;
      for (int k = 0; k < 2; ++k) {
        const int x = a.inputs[k], r = a.inputs[1 - k];
        const int p = producer[x];
        if (p < 0 || x == r || readers[x] != 1 || is_graph_output[x] || skip[p] || nodes[p].fused ||
            nodes[p].residual_input >= 0 || nodes[p].op != fb::OpType_QLinearConv)
          continue;
        if (producer[r] >= (int)p) continue;  // r must exist before the conv step runs
        if (im.tensors[x].dtype != DType::kI8 || im.tensors[r].dtype != DType::kI8 ||
            im.tensors[a.outputs[0]].dtype != DType::kI8)
          continue;
        std::vector<int64_t> sx, sr, so;
        if (!declared(x, &sx) || !declared(r, &sr) || !declared(a.outputs[0], &so) || sx != sr || sx != so) continue;
        NodePlan& c = nodes[p];
        while (c.inputs.size() < 3) c.inputs.push_back(-1);
        c.residual_input = (int)c.inputs.size();
        c.inputs.push_back(r);
        c.residual_node = (int)ni;
        c.residual_mid = x;
        c.residual_conv_is_a = k == 0;
        c.residual_attrs = a.attrs;
        c.outputs[0] = a.outputs[0];
        producer[a.outputs[0]] = p;
        skip[ni] = 1;
        break;
      }
    }
    for (uint32_t ni = 0; ni < nn; ++ni) {
      NodePlan& a = nodes[ni];
      if (a.op != fb::OpType_Relu && a.op != fb::OpType_Clip) continue;
      const int x = a.inputs[0];
      const int p = producer[x];
      if (p < 0 || readers[x] != 1 || skip[p] || nodes[p].fused) continue;
      if (nodes[p].op != fb::OpType_Conv && nodes[p].op != fb::OpType_Gemm) continue;
      if (im.tensors[x].dtype != DType::kF32) continue;
      float lo, hi;
      if (!fusable_activation(a, im.tensors, &lo, &hi)) continue;
      nodes[p].fused = true;
      nodes[p].fuse_lo = lo;
      nodes[p].fuse_hi = hi;
      nodes[p].fused_name = a.op == fb::OpType_Relu ? "relu" : "clip";
      nodes[p].outputs[0] = a.outputs[0];
      nodes[p].fused_node = (int)ni;
      skip[ni] = 1;
    }
  }
  // 4. prepare each step.
  std::vector<int> fused_of;
  for (uint32_t ni = 0; ni < nn; ++ni) {
    if (skip[ni]) continue;
    NodePlan& n = nodes[ni];
    const int fused_index = n.fused_node;
    const OpDef* def = find_op(n.op);
    Status s = def->prepare(ctx, n);
    if (!s.ok()) return s;
    if (n.run == nullptr) return Status(StatusCode::kUnsupported, node_label(n) + ": no kernel chosen");
    if (n.residual_input >= 0) {  // fused residual: exactly the output's shape (no broadcasting)
      const TensorPlan& r = im.tensors[n.inputs[n.residual_input]];
      if (r.shape != im.tensors[n.outputs[0]].shape || r.dtype != im.tensors[n.outputs[0]].dtype)
        return InvalidModel(node_label(n) + ": residual input '" + r.name + "' of the fused Add has another shape");
    }
    // The file's declared shapes must agree with the inferred ones (§4.1).
    for (int o : n.outputs) {
      const fb::Tensor* t = g.tensors()->Get(o);
      if (!t->shape()) continue;
      const Shape& got = im.tensors[o].shape;
      bool ok = t->shape()->size() == got.size();
      for (size_t d = 0; ok && d < got.size(); ++d) {
        const int64_t decl = t->shape()->Get(d);
        ok = decl == got[d] || (d == 0 && decl == -1);
      }
      if (!ok) {
        std::string gs;
        for (int64_t d : got) gs += (gs.empty() ? "" : ",") + std::to_string(d);
        return InvalidModel(node_label(n) + ": inferred output shape [" + gs + "] of tensor '" + im.tensors[o].name +
                            "' disagrees with the shape declared in the file (§4.1)");
      }
    }
    fused_of.push_back(fused_index);
    im.steps.push_back(std::move(n));
  }
  std::vector<char> read_at_run(nt, 0);
  for (const NodePlan& n : im.steps)
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (n.inputs[k] >= 0 && !(n.prepare_only_inputs >> k & 1u)) read_at_run[n.inputs[k]] = 1;
  // Materialized constants that no step reads at run time (packed copies replaced them) are
  // freed: e.g. a sparse weight densified only to be packed.
  for (uint32_t i = 0; i < nt; ++i) {
    TensorPlan& tp = im.tensors[i];
    if (!tp.is_const || read_at_run[i] || !needed[i] || !tp.const_data) continue;
    bool is_output = false;
    for (int32_t o : *g.outputs()) is_output = is_output || o == (int32_t)i;
    if (!is_output && im.weights.release(tp.const_data)) tp.const_data = nullptr;
  }
  // Weight bytes: kernel-owned blocks plus constants read in place from the file at run time
  // (materialized constants are already counted in allocated_bytes()).
  // Buffers decoded at load (§3.1) are held by the model whatever reads them: counted once, whole.
  size_t wbytes = im.weights.allocated_bytes() + (size_t)model.decoded_bytes();
  for (uint32_t i = 0; i < nt; ++i) {
    const TensorPlan& tp = im.tensors[i];
    if (!tp.is_const || !read_at_run[i]) continue;
    const fb::Tensor* t = g.tensors()->Get(i);
    const bool in_file = !(t->sparsity() || t->palette()) && tp.dtype == (DType)t->dtype();
    if (in_file && !model.buffer_is_decoded(t->buffer())) wbytes += tp.bytes;
  }
  it->weights_bytes_ = wbytes;

  // 5. lifetimes and the arena.
  const int nsteps = (int)im.steps.size();
  std::vector<ArenaRequest> reqs;
  std::vector<int> req_tensor;
  std::vector<int> first(nt, -1), last(nt, -1);
  for (int32_t i : *g.inputs()) first[i] = last[i] = 0;
  for (int s = 0; s < nsteps; ++s) {
    for (int t : im.steps[s].inputs)
      if (t >= 0) last[t] = s;
    for (int t : im.steps[s].outputs) {
      if (first[t] < 0) first[t] = s;
      if (last[t] < s) last[t] = s;
    }
  }
  // Graph inputs and outputs live through the whole run: inputs keep their values across
  // runs, outputs stay readable after run().
  for (int32_t i : *g.inputs()) last[i] = nsteps;
  for (int32_t o : *g.outputs()) last[o] = nsteps;
  for (uint32_t i = 0; i < nt; ++i) {
    if (im.tensors[i].is_const || first[i] < 0) continue;
    reqs.push_back({im.tensors[i].bytes, first[i], last[i]});
    req_tensor.push_back((int)i);
  }
  for (int s = 0; s < nsteps; ++s) {
    if (im.steps[s].scratch_bytes == 0) continue;
    reqs.push_back({im.steps[s].scratch_bytes, s, s});
    req_tensor.push_back(-1 - s);
  }
  it->arena_plan_ = plan_arena(reqs);
  if (it->arena_plan_.peak_bytes + wbytes > opts.memory_limit)
    return Status(StatusCode::kLimitExceeded, "arena of " + std::to_string(it->arena_plan_.peak_bytes) +
                                                  " bytes plus weights exceed the memory limit (§7)");
  const size_t arena_size = it->arena_plan_.peak_bytes ? it->arena_plan_.peak_bytes : 64;
  if (posix_memalign(reinterpret_cast<void**>(&im.arena), 64, arena_size) != 0) {
    im.arena = nullptr;
    return OutOfMemory("cannot allocate the " + std::to_string(arena_size) + "-byte arena");
  }
  std::memset(im.arena, 0, arena_size);
  for (size_t r = 0; r < reqs.size(); ++r) {
    const size_t off = it->arena_plan_.offsets[r];
    if (req_tensor[r] >= 0) {
      im.tensors[req_tensor[r]].arena_offset = (int64_t)off;
      im.tensors[req_tensor[r]].first_use = reqs[r].first;
      im.tensors[req_tensor[r]].last_use = reqs[r].last;
    } else {
      im.steps[-1 - req_tensor[r]].scratch_offset = (int64_t)off;
    }
    im.buffers.push_back({req_tensor[r] >= 0 ? req_tensor[r] : -1, off, reqs[r].bytes, reqs[r].first, reqs[r].last});
  }
  for (size_t s = 0; s < im.steps.size(); ++s) {
    if (im.steps[s].residual_input >= 0) im.steps[s].kernel_name += "+add";
    if (fused_of[s] >= 0) im.steps[s].kernel_name += "+" + std::string(im.steps[s].fused_name);
    if (!im.steps[s].kernel_reason.empty()) im.steps[s].kernel_name += " (" + im.steps[s].kernel_reason + ")";
  }
  it->fused_nodes_.swap(fused_of);
  MCRT_RETURN_IF_ERROR(im.pool.set_threads(opts.threads));
  *out = std::move(it);
  return Status::Ok();
}

Status Interpreter::set_threads(int n) { return impl_->pool.set_threads(n); }
int Interpreter::threads() const { return impl_->pool.threads(); }
const char* Interpreter::kernel_set_name() const { return impl_->kernels->name; }
size_t Interpreter::num_steps() const { return impl_->steps.size(); }

StepInfo Interpreter::step(size_t i) const {
  const NodePlan& n = impl_->steps[i];
  return StepInfo{n.index, fb::EnumNameOpType(n.op), n.kernel_name, fused_nodes_[i]};
}

std::vector<ArenaBufferInfo> Interpreter::arena_buffers() const { return impl_->buffers; }

TensorInfo Interpreter::info(int t) const {
  const TensorPlan& tp = impl_->tensors[t];
  TensorInfo ti;
  ti.name = tp.name;
  ti.dtype = tp.dtype;
  ti.shape = tp.shape;
  ti.bytes = tp.bytes;
  ti.data = tp.is_const ? const_cast<uint8_t*>(tp.const_data) : impl_->arena + tp.arena_offset;
  return ti;
}

TensorInfo Interpreter::input(size_t i) const { return info(inputs_[i]); }
TensorInfo Interpreter::output(size_t i) const { return info(outputs_[i]); }

int Interpreter::find_input(const std::string& name) const {
  for (size_t i = 0; i < inputs_.size(); ++i)
    if (impl_->tensors[inputs_[i]].name == name) return (int)i;
  return -1;
}

Status Interpreter::run() { return run_profiled(nullptr); }

Status Interpreter::run_profiled(uint64_t* ns_per_step) {
  ExecContext ctx;
  ctx.arena = impl_->arena;
  ctx.tensors = &impl_->tensors;
  ctx.kernels = impl_->kernels;
  ctx.pf = impl_->pool.hook();
  int bad_node = -1;
  ctx.data_error_node = &bad_node;
  if (ns_per_step == nullptr) {
    for (const NodePlan& n : impl_->steps) n.run(n, ctx);
  } else {
    using Clock = std::chrono::steady_clock;
    for (size_t s = 0; s < impl_->steps.size(); ++s) {
      const NodePlan& n = impl_->steps[s];
      const Clock::time_point t0 = Clock::now();
      n.run(n, ctx);
      ns_per_step[s] = (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
    }
  }
  if (bad_node >= 0)
    return Status(StatusCode::kInvalidArgument,
                  "node " + std::to_string(bad_node) + ": input data out of range (e.g. a Gather index)");
  return Status::Ok();
}

}  // namespace mcrt
