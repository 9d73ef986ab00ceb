#!/usr/bin/python3
"""Writes the malformed-input corpus: one small file per class of bad input that
real tools have shipped bugs for (../../../shared/docs/security.md, issue #2).
Each case is listed in cases.tsv with the text its error message must contain.
Cases that need links (symlink, hard link) are built by the test at run time from
the files written here, because git does not keep hard links.
Run with Debian's interpreter: /usr/bin/python3 tests/malformed/make_corpus.py
"""
import os
import struct
import onnx
from onnx import helper, TensorProto, numpy_helper
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
cases = []  # (file, expected substring, description)


def base_model(extra_inits=(), nodes=None, inputs=None, outputs=None, opset=13):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    if nodes is None:
        nodes = [helper.make_node("Add", ["x", "b"], ["y"], name="add")]
    inits = list(extra_inits)
    g = helper.make_graph(nodes, "g", inputs if inputs is not None else [x],
                          outputs if outputs is not None else [y], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="mc-malformed")
    m.ir_version = 8
    return m


def good_b():
    return numpy_helper.from_array(np.arange(4, dtype=np.float32), "b")


def save(name, model_or_bytes, expect, what):
    path = os.path.join(HERE, name)
    data = model_or_bytes if isinstance(model_or_bytes, bytes) else model_or_bytes.SerializeToString()
    with open(path, "wb") as f:
        f.write(data)
    cases.append((name, expect, what))


def ext_tensor(location=None, offset=None, length=None, extra=()):
    t = TensorProto()
    t.name = "b"
    t.data_type = TensorProto.FLOAT
    t.dims.extend([4])
    t.data_location = TensorProto.EXTERNAL
    for k, v in ([("location", location)] if location is not None else []) + \
            ([("offset", offset)] if offset is not None else []) + \
            ([("length", length)] if length is not None else []) + list(extra):
        e = t.external_data.add()
        e.key = k
        e.value = v
    return t


# --- the valid reference model and its external data (used by link cases too) ---
valid = base_model([good_b()])
with open(os.path.join(HERE, "valid.onnx"), "wb") as f:
    f.write(valid.SerializeToString())
os.makedirs(os.path.join(HERE, "ext"), exist_ok=True)
with open(os.path.join(HERE, "ext", "weights.bin"), "wb") as f:
    f.write(np.arange(4, dtype=np.float32).tobytes())
ext_ok = base_model([ext_tensor("weights.bin", "0", "16")])
with open(os.path.join(HERE, "ext", "valid_external.onnx"), "wb") as f:
    f.write(ext_ok.SerializeToString())

# --- file level ---
save("empty.onnx", b"", "file is empty", "zero-byte file")
full = valid.SerializeToString()
save("truncated.onnx", full[: len(full) // 2], "not a valid ONNX model", "protobuf cut in half")
save("not_protobuf.onnx", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not a valid ONNX model", "a PNG, not protobuf")
save("text_file.onnx", b"hello, this is not a model\n" * 10, "not a valid ONNX model", "plain text")
m = onnx.ModelProto(); m.ir_version = 8; m.opset_import.add().version = 13
save("no_graph.onnx", m, "no graph", "ModelProto without a graph")
m = base_model([good_b()]); m.ir_version = 0
save("no_ir_version.onnx", m, "ir_version missing", "ir_version 0")
save("opset_too_new.onnx", base_model([good_b()], opset=99), "opset 99 is not supported", "default opset 99")
m = base_model([good_b()]); m.opset_import.add().version = 13
save("duplicate_opset.onnx", m, "lists domain '' twice", "default domain imported twice")

# --- tensors ---
t = good_b(); t.data_type = 99
save("unknown_dtype.onnx", base_model([t]), "unknown data type 99", "initializer dtype 99")
t = good_b(); t.raw_data = t.raw_data[:10]
save("raw_data_short.onnx", base_model([t]), "bytes of raw_data; its shape and type need 16", "raw_data shorter than dims")
t = good_b(); t.raw_data = t.raw_data + b"\0" * 8
save("raw_data_long.onnx", base_model([t]), "bytes of raw_data; its shape and type need 16", "raw_data longer than dims")
t = good_b(); del t.dims[:]; t.dims.extend([-4])
save("negative_dim.onnx", base_model([t]), "negative dimension -4", "initializer dim -4")
t = good_b(); del t.dims[:]; t.dims.extend([1 << 32, 1 << 32, 1 << 32])
save("dims_overflow.onnx", base_model([t]), "overflows", "product of dims wraps 64 bits")
t = good_b(); del t.dims[:]; t.dims.extend([65536, 65536])
save("huge_dims_tiny_data.onnx", base_model([t]), "its shape and type need 17179869184", "[65536,65536] with 16 bytes (tflite-micro #3588)")
t = helper.make_tensor("b", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0]); t.dims[0] = 4
save("float_data_count.onnx", base_model([t]), "has 3 values in float_data; its shape needs 4", "typed data count mismatch")
t = good_b(); t.float_data.extend([1.0, 2.0, 3.0, 4.0])
save("raw_and_typed.onnx", base_model([t]), "both raw_data and typed data", "raw_data and float_data together")
t = helper.make_tensor("s", TensorProto.STRING, [1], [b"a"]); t.raw_data = b"x"
save("string_raw_data.onnx", base_model([good_b(), t]), "string tensors must use string_data", "string tensor with raw_data")
t = good_b(); t.segment.begin = 0; t.segment.end = 2
save("segment.onnx", base_model([t]), "segments", "segmented tensor")
save("duplicate_initializer.onnx", base_model([good_b(), good_b()]), "initializer 'b' is defined twice", "two initializers named b")
t = good_b(); t.name = ""
save("unnamed_initializer.onnx", base_model([t]), "an initializer has no name", "initializer without a name")

# --- graph structure ---
save("missing_initializer.onnx", base_model([]), "reads 'b', which no node, input or initializer defines", "node input never defined")
nodes = [helper.make_node("Add", ["x", "t2"], ["t1"], name="a1"), helper.make_node("Relu", ["t1"], ["t2"], name="r1"),
         helper.make_node("Identity", ["t2"], ["y"], name="id")]
save("cycle.onnx", base_model([], nodes=nodes), "cycle", "two nodes feeding each other")
nodes = [helper.make_node("Relu", ["x"], ["y"], name="r1"), helper.make_node("Relu", ["x"], ["y"], name="r2")]
save("duplicate_output.onnx", base_model([], nodes=nodes), "produced by more than one node", "SSA violation")
nodes = [helper.make_node("Relu", ["x"], ["b"], name="r1"), helper.make_node("Identity", ["b"], ["y"])]
save("output_shadows_initializer.onnx", base_model([good_b()], nodes=nodes), "both an initializer and a node output", "node output named like an initializer")
x_noshape = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
save("input_without_shape.onnx", base_model([good_b()], inputs=[x_noshape]), "graph input 'x' has no shape", "graph input with no shape")
x_neg = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
x_neg.type.tensor_type.shape.dim[1].dim_value = -3
save("input_negative_dim.onnx", base_model([good_b()], inputs=[x_neg]), "negative dimension -3", "graph input with dim -3")
x_notype = onnx.ValueInfoProto(); x_notype.name = "x"
save("input_without_type.onnx", base_model([good_b()], inputs=[x_notype]), "graph input 'x' has no shape", "graph input with no type at all")
save("duplicate_input.onnx", base_model([good_b()], inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])] * 2),
     "graph input 'x' is declared twice", "graph input listed twice")
n = helper.make_node("Add", ["x", "b"], ["y"], name="add"); n.op_type = ""
save("empty_op_type.onnx", base_model([good_b()], nodes=[n]), "empty op_type", "node without op_type")
n = helper.make_node("LeakyRelu", ["x"], ["y"], name="lr", alpha=0.1); n.attribute.append(helper.make_attribute("alpha", 0.2))
save("duplicate_attribute.onnx", base_model([], nodes=[n]), "has attribute 'alpha' twice", "attribute given twice")
n = helper.make_node("LeakyRelu", ["x"], ["y"], name="lr", alpha=0.1); n.attribute[0].type = 0
save("undefined_attribute_type.onnx", base_model([], nodes=[n]), "unknown type 0", "attribute of undefined type")


def nested_if(depth):
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "leaf", [], [out])
    inner = leaf
    for i in range(depth):
        cond = helper.make_node("Constant", [], ["c%d" % i], value=helper.make_tensor("v", TensorProto.BOOL, [], [True]))
        ifn = helper.make_node("If", ["c%d" % i], ["y"], then_branch=inner, else_branch=leaf)
        inner = helper.make_graph([cond, ifn], "lvl%d" % i, [], [out])
    return inner


g = nested_if(40)
m = helper.make_model(helper.make_graph(g.node, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])]),
                      opset_imports=[helper.make_opsetid("", 13)])
save("nested_if_40.onnx", m, "not a valid ONNX model", "If nested 40 deep (protobuf recursion limit 100 rejects it before our depth limit of 32)")

# --- external data (every spelling in security.md; links are built by the test) ---
EXT = [
    ("ext_dotdot.onnx", ext_tensor("../weights.bin", "0", "16"), "leaves or names the model folder oddly ('..')", "location ../x"),
    ("ext_inner_dotdot.onnx", ext_tensor("a/../../weights.bin", "0", "16"), "('..')", "location a/../../x"),
    ("ext_absolute.onnx", ext_tensor("/etc/passwd", "0", "16"), "absolute location", "absolute path"),
    ("ext_empty_location.onnx", ext_tensor("", "0", "16"), "empty location", "empty location"),
    ("ext_no_location.onnx", ext_tensor(None, "0", "16"), "external data without a location", "no location key"),
    ("ext_duplicate_location.onnx", ext_tensor("weights.bin", "0", "16", extra=[("location", "../../etc/passwd")]),
     "key 'location' appears twice", "location given twice"),
    ("ext_negative_offset.onnx", ext_tensor("weights.bin", "-8", "16"), "negative offset -8", "offset -8"),
    ("ext_negative_length.onnx", ext_tensor("weights.bin", "0", "-16"), "negative length -16", "length -16"),
    ("ext_past_end.onnx", ext_tensor("weights.bin", "8", "16"), "is past the end", "offset+length beyond the file"),
    ("ext_huge_length.onnx", ext_tensor("weights.bin", "0", str(1 << 40)), "is past the end", "length 1 TiB"),
    ("ext_offset_past_end.onnx", ext_tensor("weights.bin", "4096", "16"), "is past the end", "offset beyond the file"),
    ("ext_wrong_length.onnx", ext_tensor("weights.bin", "0", "12"), "does not match the 16 bytes", "length not matching dims"),
    ("ext_unknown_key.onnx", ext_tensor("weights.bin", "0", "16", extra=[("basepath", "/")]), "unknown external_data key 'basepath'", "unknown key"),
    ("ext_not_number.onnx", ext_tensor("weights.bin", "0x10", "16"), "is not a number", "offset 0x10"),
    ("ext_missing_file.onnx", ext_tensor("nope.bin", "0", "16"), "cannot open 'nope.bin'", "file does not exist"),
    ("ext_directory.onnx", ext_tensor("subdir", "0", "16"), "is not a regular file", "location is a folder"),
    ("ext_backslash.onnx", ext_tensor("..\\weights.bin", "0", "16"), "backslash", "Windows-style ..\\x"),
]
os.makedirs(os.path.join(HERE, "ext", "subdir"), exist_ok=True)
with open(os.path.join(HERE, "ext", "subdir", ".keep"), "w") as f:
    f.write("")
for name, t, expect, what in EXT:
    data = base_model([t]).SerializeToString()
    with open(os.path.join(HERE, "ext", name), "wb") as f:
        f.write(data)
    cases.append(("ext/" + name, expect, what))

# Link cases: the models are written here; the test creates the links in a temp copy of ext/.
LINKS = [
    ("ext_symlink.onnx", "link.bin", "is a symbolic link", "last component is a symlink to weights.bin"),
    ("ext_symlink_dir.onnx", "linkdir/weights.bin", "cannot be opened without following links", "parent folder is a symlink"),
    ("ext_symlink_escape.onnx", "escape.bin", "is a symbolic link", "symlink to a file outside the folder"),
    ("ext_hardlink.onnx", "hard.bin", "hard links", "hard link to weights.bin"),
]
with open(os.path.join(HERE, "link_cases.tsv"), "w") as f:
    f.write("# file\tlocation\texpected message fragment\tclass\n")
    for name, loc, expect, what in LINKS:
        with open(os.path.join(HERE, "ext", name), "wb") as mf:
            mf.write(base_model([ext_tensor(loc, "0", "16")]).SerializeToString())
        f.write("\t".join(("ext/" + name, loc, expect, what)) + "\n")

with open(os.path.join(HERE, "cases.tsv"), "w") as f:
    f.write("# file\texpected message fragment\tclass\n")
    for c in cases:
        f.write("\t".join(c) + "\n")
print(len(cases), "cases +", len(LINKS), "link cases")
