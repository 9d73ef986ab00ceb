#!/usr/bin/python3
"""Train the four bundled Fashion-MNIST models and export them to ONNX.

Run from anywhere:  /usr/bin/python3 examples/fashion-mnist/train.py

What it does, in order:
  1. reads the Fashion-MNIST IDX files (gzip) from /usr/share/datasets/fashion-mnist/
     (Debian package dataset-fashion-mnist) directly, without torchvision;
  2. trains mlp, lenet5, mobile and resnet on CPU (2 threads, fixed seeds,
     deterministic algorithms);
  3. exports each to ONNX opset 13 with a dynamic batch dimension
     (input "input" [N,1,28,28] float32, output "logits" [N,10] float32),
     keeping BatchNormalization nodes (no BN-into-Conv fusion) and Constant nodes;
  4. checks each exported file with python3-onnx (checker, op types, parameter count);
  5. recomputes the test accuracy with ONNX Runtime through tests/peers/ort_run.js
     (if node and .deps/ort are present; `bash scripts/setup.sh` installs them) and
     compares the ORT logits with the torch eval logits;
  6. writes models.json next to the models.

The models expect ALREADY NORMALISED input: pixels scaled to [0, 1], then
(x - 0.2860) / 0.3530. The normalisation is not inside the graphs.

Options: --out DIR (default: this folder), --epochs-scale F (multiply every
model's epoch count, e.g. 0.25 for a quick smoke run), --only NAME[,NAME].
"""
import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

# Passive OpenMP waiting: on a shared, busy 2-core machine spinning threads make
# conv training several times slower. Must be set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530
SEED = 20261127
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))


# ---------------------------------------------------------------- data
def read_idx_gz(path):
    """Read a gzip IDX file (magic 0x0000 0x08 ndim, big-endian dims, u8 data)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} bytes, got {data.size}")
    return data.reshape(dims)


def load_split(prefix):
    x = read_idx_gz(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx_gz(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(((x.astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32))
    return x.unsqueeze(1).contiguous(), torch.from_numpy(y.astype(np.int64))


# ---------------------------------------------------------------- models
class MLP(nn.Module):
    """LeNet-300-100: 784-300-100-10, ReLU. 266,610 parameters."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class LeNet5(nn.Module):
    """LeNet-5 with ReLU and max pooling: conv5x5(6, pad 2)-pool-conv5x5(16)-pool-120-84-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def conv_bn_relu6(cin, cout, k, stride, groups=1):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU6(inplace=True)]


class Mobile(nn.Module):
    """MobileNet-v1 style: stem conv3x3, then depthwise-separable blocks
    (depthwise 3x3 groups=C + BN + ReLU6, pointwise 1x1 + BN + ReLU6),
    three of them with stride 2 (28 -> 14 -> 7 -> 4), global average pool, FC."""

    # (out_channels, stride) of each depthwise-separable block
    BLOCKS = [(32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1)]

    def __init__(self, stem=16):
        super().__init__()
        layers = conv_bn_relu6(1, stem, 3, 1)
        cin = stem
        for cout, stride in self.BLOCKS:
            layers += conv_bn_relu6(cin, cin, 3, stride, groups=cin)  # depthwise
            layers += conv_bn_relu6(cin, cout, 1, 1)                  # pointwise
            cin = cout
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut (identity, or 1x1 conv + BN when the
    shape changes), Add, ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        idt = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + idt)


class ResNet(nn.Module):
    """A small ResNet: stem conv3x3(16)-BN-ReLU, stages of basic blocks with
    16 / 32 / 64 channels (the second and third stage start with stride 2 and a
    projection shortcut), global average pool, FC."""

    STAGES = [(16, 1, 1), (32, 2, 1), (64, 2, 1)]  # (channels, first stride, blocks)

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        blocks, cin = [], 16
        for cout, stride, n in self.STAGES:
            for i in range(n):
                blocks.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


# name -> (constructor, epochs, peak learning rate, batch size)
MODELS = {
    "mlp": (MLP, 8, 2e-3, 128),
    "lenet5": (LeNet5, 10, 3e-3, 128),
    "mobile": (Mobile, 6, 4e-3, 128),
    "resnet": (ResNet, 6, 4e-3, 128),
}


# ---------------------------------------------------------------- training
def n_params(model):
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def predict(model, x, batch=1000):
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def train(name, ctor, epochs, lr, batch, xtr, ytr, log):
    torch.manual_seed(SEED)
    model = ctor()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = (len(xtr) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch,
                                                pct_start=0.25)
    gen = torch.Generator().manual_seed(SEED)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(xtr), batch):
            idx = perm[i:i + batch]
            xb, yb = xtr[idx], ytr[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
            total += len(idx)
        log(f"  {name} epoch {ep + 1}/{epochs}: loss {loss_sum / total:.4f} train acc {correct / total:.4f} "
            f"({time.time() - t0:.0f}s)")
    return model, time.time() - t0


# ---------------------------------------------------------------- export + checks
def export(model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    # TrainingMode.PRESERVE with the module in eval mode exports inference semantics
    # but skips the eval-mode peephole pass that fuses BatchNormalization into Conv;
    # do_constant_folding=False keeps Constant nodes (both are wanted by the
    # `optimize` tests, which must find something to fold).
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(path)
    meta = {"normalization": f"pixels/255 then (x - {MEAN}) / {STD}; not inside the graph",
            "dataset": "Fashion-MNIST", "generator": "examples/fashion-mnist/train.py"}
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return m


def onnx_summary(m):
    op_types = sorted({n.op_type for n in m.graph.node})
    init_elems = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    # Parameters in the torch sense: initializers minus BatchNormalization running statistics.
    bn_stats = set()
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            bn_stats.update(n.input[3:5])
    sizes = {t.name: int(np.prod(t.dims)) for t in m.graph.initializer}
    # The exporter de-duplicates initializers with identical values and re-creates the
    # duplicate name with an Identity node (in the ResNet, each projection shortcut's BN
    # bias always equals bn2's bias: both receive the same gradient from the Add).
    aliases = {n.output[0]: sizes[n.input[0]] for n in m.graph.node
               if n.op_type == "Identity" and n.input[0] in sizes}
    params = sum(v for k, v in list(sizes.items()) + list(aliases.items()) if k not in bn_stats)
    counts = {}
    for n in m.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return op_types, counts, init_elems, params


def write_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr))


def run_ort(model_path, x_npy, workdir):
    """Run the model through tests/peers/ort_run.js; returns logits or None if ORT is unavailable."""
    tool = os.path.join(REPO_ROOT, "tests", "peers", "ort_run.js")
    ort_pkg = os.path.join(REPO_ROOT, ".deps", "ort", "node_modules", "onnxruntime-node")
    if not (os.path.exists(tool) and os.path.isdir(ort_pkg)):
        return None
    out_dir = tempfile.mkdtemp(dir=workdir)
    r = subprocess.run(["node", tool, model_path, "--in", f"input={x_npy}", "--out-dir", out_dir],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ort_run.js failed ({r.returncode}): {r.stderr.strip()}")
    return np.load(os.path.join(out_dir, "logits.npy"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--epochs-scale", type=float, default=1.0)
    ap.add_argument("--only", default="")
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)

    def log(msg):
        print(msg, flush=True)

    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    log(f"data: train {tuple(xtr.shape)} test {tuple(xte.shape)}")
    os.makedirs(args.out, exist_ok=True)
    names = [n for n in MODELS if not args.only or n in args.only.split(",")]

    work = tempfile.mkdtemp(prefix="fmnist-ort-")
    x_npy = os.path.join(work, "test_input.npy")
    write_npy(x_npy, xte.numpy())
    y = yte.numpy()

    results = []
    t_all = time.time()
    for name in names:
        ctor, epochs, lr, batch = MODELS[name]
        epochs = max(1, round(epochs * args.epochs_scale))
        log(f"{name}: {n_params(ctor())} params, {epochs} epochs, Adam lr {lr} one-cycle, batch {batch}")
        model, secs = train(name, ctor, epochs, lr, batch, xtr, ytr, log)
        logits = predict(model, xte).numpy()
        acc = float((logits.argmax(1) == y).mean())
        path = os.path.join(args.out, f"{name}.onnx")
        m = export(model, path)
        op_types, counts, init_elems, params = onnx_summary(m)
        if params != n_params(model):
            raise RuntimeError(f"{name}: ONNX params {params} != torch params {n_params(model)}")
        if name == "mlp" and params != 266610:
            raise RuntimeError(f"mlp: expected 266610 params, got {params}")
        if name in ("mobile", "resnet") and "BatchNormalization" not in op_types:
            raise RuntimeError(f"{name}: BatchNormalization was fused away by the exporter")
        if name == "resnet" and "Add" not in op_types:
            raise RuntimeError("resnet: no residual Add in the export")
        entry = {"name": name, "file": f"{name}.onnx", "params": params, "onnx_initializer_elements": init_elems,
                 "bytes": os.path.getsize(path), "epochs": epochs, "train_seconds": round(secs, 1),
                 "torch_test_accuracy": round(acc, 4), "op_types": op_types, "op_counts": counts}
        ort_logits = run_ort(path, x_npy, work)
        if ort_logits is not None:
            if ort_logits.shape != logits.shape:
                raise RuntimeError(f"{name}: ORT logits shape {ort_logits.shape} != torch {logits.shape}")
            entry["ort_test_accuracy"] = round(float((ort_logits.argmax(1) == y).mean()), 4)
            entry["ort_vs_torch_max_abs_logit_diff"] = float(np.abs(ort_logits - logits).max())
            entry["ort_vs_torch_argmax_disagreements"] = int((ort_logits.argmax(1) != logits.argmax(1)).sum())
        else:
            log("  (ONNX Runtime peer not available: run scripts/setup.sh; ort_test_accuracy omitted)")
        log(f"  {name}: torch acc {acc:.4f}, ort acc {entry.get('ort_test_accuracy')}, "
            f"max |diff| {entry.get('ort_vs_torch_max_abs_logit_diff')}, {entry['bytes']} bytes, ops {op_types}")
        results.append(entry)

    summary = {
        "dataset": "Fashion-MNIST test set (t10k), 10000 images, from /usr/share/datasets/fashion-mnist",
        "input": {"name": "input", "shape": ["N", 1, 28, 28], "dtype": "float32"},
        "output": {"name": "logits", "shape": ["N", 10], "dtype": "float32"},
        "normalization": {"scale": 1.0 / 255.0, "mean": MEAN, "std": STD,
                          "note": "x = (pixel/255 - mean) / std is applied by the caller, not inside the models"},
        "opset": 13,
        "seed": SEED,
        "torch": torch.__version__,
        "total_train_seconds": round(time.time() - t_all, 1),
        "models": results,
    }
    if not args.only:
        with open(os.path.join(args.out, "models.json"), "w") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
    else:
        print(json.dumps(summary, indent=2))
    total = sum(e["bytes"] for e in results)
    log(f"total ONNX bytes: {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
