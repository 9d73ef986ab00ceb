#include "compress/onnx/tensor_proto.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "compress/error.h"
#include "compress/io/checked_math.h"
#include "compress/io/file_io.h"

namespace mc {
namespace {

[[noreturn]] void bad(const TensorProtoSource& c, const std::string& why) { throw_input_error(c.file, why); }


template <typename Src, typename Dst>
void copy_typed(const google::protobuf::RepeatedField<Src>& src, std::vector<uint8_t>* out) {
  out->resize(static_cast<size_t>(src.size()) * sizeof(Dst));
  for (int i = 0; i < src.size(); ++i) {
    Dst v = static_cast<Dst>(src.Get(i));
    std::memcpy(out->data() + static_cast<size_t>(i) * sizeof(Dst), &v, sizeof(Dst));
  }
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& tp, const TensorProtoSource& c, const std::string& fallback_name) {
  Tensor t;
  t.name = tp.name().empty() ? fallback_name : tp.name();
  t.doc_string = tp.doc_string();
  const std::string who = "tensor '" + t.name + "'";
  if (!dtype_is_known(tp.data_type()))
    bad(c, who + " has unknown data type " + std::to_string(tp.data_type()));
  t.dtype = static_cast<DType>(tp.data_type());
  for (int64_t d : tp.dims()) {
    if (d < 0) bad(c, who + " has negative dimension " + std::to_string(d));
    t.dims.push_back(d);
  }
  uint64_t numel = 0;
  if (!checked_numel(t.dims, &numel)) bad(c, who + ": the product of its dimensions overflows");
  if (tp.has_segment()) bad(c, who + " uses segments, which are not supported");

  if (t.dtype == DType::String) {
    if (tp.has_raw_data() || tp.data_location() == onnx::TensorProto::EXTERNAL)
      bad(c, who + ": string tensors must use string_data");
    if (static_cast<uint64_t>(tp.string_data_size()) != numel)
      bad(c, who + " has " + std::to_string(tp.string_data_size()) + " strings, its shape needs " + std::to_string(numel));
    t.strings.assign(tp.string_data().begin(), tp.string_data().end());
    return t;
  }
  uint64_t expected = 0;
  if (!dtype_storage_bytes(t.dtype, numel, &expected)) bad(c, who + ": its byte size overflows");

  const int typed = tp.float_data_size() + tp.int32_data_size() + tp.int64_data_size() + tp.double_data_size() +
                    tp.uint64_data_size() + tp.string_data_size();
  if (tp.data_location() == onnx::TensorProto::EXTERNAL) {
    if (tp.has_raw_data() || typed) bad(c, who + " is marked external but also carries inline data");
    ExternalDataRef ref;
    std::unordered_set<std::string> seen;
    bool has_location = false;
    for (const auto& kv : tp.external_data()) {
      if (!seen.insert(kv.key()).second) bad(c, who + ": external_data key '" + kv.key() + "' appears twice");
      auto parse_int = [&](const std::string& s) -> int64_t {
        if (s.empty() || s.size() > 19) bad(c, who + ": external_data " + kv.key() + " '" + s + "' is not a number");
        size_t i = (s[0] == '-') ? 1 : 0;
        if (i == s.size()) bad(c, who + ": external_data " + kv.key() + " '" + s + "' is not a number");
        for (size_t k = i; k < s.size(); ++k)
          if (s[k] < '0' || s[k] > '9') bad(c, who + ": external_data " + kv.key() + " '" + s + "' is not a number");
        return std::stoll(s);
      };
      if (kv.key() == "location") { ref.location = kv.value(); has_location = true; }
      else if (kv.key() == "offset") ref.offset = parse_int(kv.value());
      else if (kv.key() == "length") ref.length = parse_int(kv.value());
      else if (kv.key() == "checksum") {}  // informational (SHA1); not verified
      else bad(c, who + ": unknown external_data key '" + kv.key() + "'");
    }
    if (!has_location) bad(c, who + ": external data without a location");
    if (ref.length < 0 && seen.count("length")) bad(c, who + ": external data has negative length " + std::to_string(ref.length));
    std::string bytes = read_external_data(c.model_dir, ref, expected, c.file, t.name);
    const std::string full = c.model_dir + "/" + ref.location;
    if (c.external_files &&
        std::find(c.external_files->begin(), c.external_files->end(), full) == c.external_files->end())
      c.external_files->push_back(full);
    t.data.assign(bytes.begin(), bytes.end());
    return t;
  }
  if (tp.has_raw_data()) {
    if (typed) bad(c, who + " carries both raw_data and typed data");
    if (tp.raw_data().size() != expected)
      bad(c, who + " has " + std::to_string(tp.raw_data().size()) + " bytes of raw_data; its shape and type need " +
                 std::to_string(expected));
    t.data.assign(tp.raw_data().begin(), tp.raw_data().end());
    return t;
  }
  // Typed fields: the count must equal the element count (complex: twice).
  auto need = [&](int have, uint64_t want, const char* field) {
    if (static_cast<uint64_t>(have) != want)
      bad(c, who + " has " + std::to_string(have) + " values in " + field + "; its shape needs " + std::to_string(want));
  };
  switch (t.dtype) {
    case DType::F32: need(tp.float_data_size(), numel, "float_data"); copy_typed<float, float>(tp.float_data(), &t.data); break;
    case DType::C64: need(tp.float_data_size(), numel * 2, "float_data"); copy_typed<float, float>(tp.float_data(), &t.data); break;
    case DType::F64: need(tp.double_data_size(), numel, "double_data"); copy_typed<double, double>(tp.double_data(), &t.data); break;
    case DType::C128: need(tp.double_data_size(), numel * 2, "double_data"); copy_typed<double, double>(tp.double_data(), &t.data); break;
    case DType::I64: need(tp.int64_data_size(), numel, "int64_data"); copy_typed<int64_t, int64_t>(tp.int64_data(), &t.data); break;
    case DType::I32: need(tp.int32_data_size(), numel, "int32_data"); copy_typed<int32_t, int32_t>(tp.int32_data(), &t.data); break;
    case DType::I16: need(tp.int32_data_size(), numel, "int32_data"); copy_typed<int32_t, int16_t>(tp.int32_data(), &t.data); break;
    case DType::U16: case DType::F16: case DType::BF16:
      need(tp.int32_data_size(), numel, "int32_data"); copy_typed<int32_t, uint16_t>(tp.int32_data(), &t.data); break;
    case DType::I8: need(tp.int32_data_size(), numel, "int32_data"); copy_typed<int32_t, int8_t>(tp.int32_data(), &t.data); break;
    case DType::U8: case DType::Bool:
      need(tp.int32_data_size(), numel, "int32_data"); copy_typed<int32_t, uint8_t>(tp.int32_data(), &t.data); break;
    case DType::U32: need(tp.uint64_data_size(), numel, "uint64_data"); copy_typed<uint64_t, uint32_t>(tp.uint64_data(), &t.data); break;
    case DType::U64: need(tp.uint64_data_size(), numel, "uint64_data"); copy_typed<uint64_t, uint64_t>(tp.uint64_data(), &t.data); break;
    case DType::I4: case DType::U4: {
      need(tp.int32_data_size(), (numel + 1) / 2, "int32_data");
      copy_typed<int32_t, uint8_t>(tp.int32_data(), &t.data);
      break;
    }
    default: bad(c, who + ": unsupported data type " + dtype_name(t.dtype));
  }
  if (t.data.size() != expected) bad(c, who + ": decoded size does not match its shape");
  return t;
}


Tensor tensor_from_proto_bytes(const std::string& bytes, const TensorProtoSource& src) {
  onnx::TensorProto tp;
  if (!tp.ParseFromString(bytes)) bad(src, "not a serialized onnx.TensorProto");
  if (tp.data_location() == onnx::TensorProto::EXTERNAL && src.model_dir.empty())
    bad(src, "tensor '" + tp.name() + "' uses external data, which is not allowed here");
  return tensor_from_proto(tp, src, "");
}

}  // namespace mc
