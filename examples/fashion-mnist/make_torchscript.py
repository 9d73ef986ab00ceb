#!/usr/bin/python3
"""Write TorchScript fixtures for mcompress's LibTorch support (distill/).

Run:  /usr/bin/python3 examples/fashion-mnist/make_torchscript.py --out DIR

Writes into DIR (nothing is trained; it takes a few seconds):
  lenet5.pt, resnet.pt  the bundled LeNet-5 and ResNet (architectures from train.py),
                        scripted with torch.jit.script, weights copied from
                        lenet5.onnx / resnet.onnx, so they compute the same logits;
  ops.pt                a small module with seeded random weights that uses every
                        aten op the importer maps that the two models do not
                        (layer_norm, gelu, hardswish, hardsigmoid, sigmoid, tanh,
                        avg/adaptive pooling, cat, mul, permute, view, reshape,
                        matmul, softmax, dropout, relu6, hardtanh);
  unsupported.pt        a module using aten::cumsum, which the importer refuses;
  noshape.pt            the student MLP below without the "input_shapes" extra file;
  student.onnx          an untrained LeNet-300-100-like MLP 784-20-10 (15,910
                        parameters, under 1/4 of every bundled teacher), seeded, the
                        starting point for `mcompress distill` and `finetune`.

Each .pt carries an extra file "input_shapes" (JSON {input name: [dims]}, -1 for
the batch dim), which mcompress reads instead of --input-shape.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train  # noqa: E402  (architectures only; importing it trains nothing)

SEED = 20261127
SHAPE = {"x": [-1, 1, 28, 28]}


def onnx_state_dict(path):
    """Initializers by name, with the exporter's Identity aliases resolved."""
    m = onnx.load(path)
    init = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Identity" and n.input[0] in init:
            init[n.output[0]] = init[n.input[0]]
    return init


def load_from_onnx(model, path):
    init = onnx_state_dict(path)
    sd = model.state_dict()
    for k in sd:
        if k.endswith("num_batches_tracked"):
            continue
        if k not in init:
            raise SystemExit(f"{path}: no initializer for {k}")
        if tuple(init[k].shape) != tuple(sd[k].shape):
            raise SystemExit(f"{path}: {k} has shape {tuple(init[k].shape)}, expected {tuple(sd[k].shape)}")
        sd[k] = init[k]
    model.load_state_dict(sd)
    return model.eval()


class Ops(nn.Module):
    """Every remaining mapped op, on a [N,1,28,28] input, 10 outputs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, stride=2, padding=1)        # 14x14
        self.bn = nn.BatchNorm2d(4)
        self.ln = nn.LayerNorm(49)
        self.fc = nn.Linear(49, 16)
        self.proj = nn.Parameter(torch.randn(16, 8) * 0.3)
        self.head = nn.Linear(4 * 8 * 2 + 4, 10)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        y = F.relu6(self.bn(self.conv(x)))                          # hardtanh(0, 6)
        a = F.avg_pool2d(y, 2)                                      # [N,4,7,7]
        m = F.max_pool2d(F.hardtanh(y, -1.0, 2.0), 2)               # [N,4,7,7]
        z = torch.cat([a, m * torch.sigmoid(m)], 1)                 # [N,8,7,7]
        z = z.view(z.size(0), 8, 49)
        z = self.ln(z)
        z = F.gelu(self.fc(z))                                      # linear on rank 3
        z = torch.matmul(torch.tanh(z), self.proj)                  # [N,8,8]
        z = F.hardswish(z) + F.hardsigmoid(z)
        z = z.permute(0, 2, 1).reshape(-1, 4, 8, 2)                 # [N,4,8,2]
        g = F.adaptive_avg_pool2d(y, 1).flatten(1)                  # [N,4]
        h = torch.cat([torch.flatten(z, 1), g], 1)
        return F.softmax(self.head(self.drop(h)), dim=1)


class Unsupported(nn.Module):
    def forward(self, x):
        return torch.cumsum(torch.flatten(x, 1), 1)


class Student(nn.Module):
    """784-20-10 MLP: 15,910 parameters."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 20)
        self.fc2 = nn.Linear(20, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def save(module, path):
    scripted = torch.jit.script(module.eval())
    torch.jit.save(scripted, path, _extra_files={"input_shapes": json.dumps(SHAPE)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(SEED)
    save(load_from_onnx(train.LeNet5(), os.path.join(HERE, "lenet5.onnx")), os.path.join(args.out, "lenet5.pt"))
    save(load_from_onnx(train.ResNet(), os.path.join(HERE, "resnet.onnx")), os.path.join(args.out, "resnet.pt"))
    ops = Ops()
    with torch.no_grad():  # non-trivial BN statistics
        ops.bn.running_mean.uniform_(-0.5, 0.5)
        ops.bn.running_var.uniform_(0.5, 2.0)
        ops.bn.weight.uniform_(0.5, 1.5)
        ops.bn.bias.uniform_(-0.5, 0.5)
    save(ops, os.path.join(args.out, "ops.pt"))
    save(Unsupported(), os.path.join(args.out, "unsupported.pt"))
    torch.manual_seed(SEED)
    student = Student().eval()
    torch.jit.save(torch.jit.script(student), os.path.join(args.out, "noshape.pt"))
    torch.onnx.export(student, torch.zeros(1, 1, 28, 28), os.path.join(args.out, "student.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})


if __name__ == "__main__":
    main()
