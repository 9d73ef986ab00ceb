#!/usr/bin/python3
"""Write untrained, seeded student models for `mcompress distill` / `finetune` experiments.

Run:  /usr/bin/python3 examples/fashion-mnist/make_students.py --out DIR

Writes into DIR (nothing is trained; it takes a second):
  student_cnn.onnx   a small CNN: conv 1->8 5x5, relu, maxpool 2, conv 8->16 5x5, relu,
                     maxpool 2, fc 256->32, relu, fc 32->10 (11,978 parameters: 0.154 of
                     resnet.onnx's 77,754 and 0.194 of lenet5.onnx's 61,706, so <= 1/4 of
                     either teacher). PyTorch's default initialization with a fixed seed.
Input "input" [N, 1, 28, 28] (normalized as in models.json), output "logits" [N, 10].
The distillation measurements in docs/training.md start from this file.
"""
import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SEED = 20261127


class StudentCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5)
        self.conv2 = nn.Conv2d(8, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(SEED)
    m = StudentCNN().eval()
    n = sum(p.numel() for p in m.parameters())
    path = os.path.join(args.out, "student_cnn.onnx")
    torch.onnx.export(m, torch.zeros(1, 1, 28, 28), path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    print(f"{path}: {n} parameters")


if __name__ == "__main__":
    main()
