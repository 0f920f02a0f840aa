#!/usr/bin/env python3
"""PyTorch reference for seedmask's 20-step training equivalence (test/train/equivalence.test.ts).

Usage (from the repository root; Debian's python3-torch, so /usr/bin/python3):

    npx tsx test/train/make-equivalence-inputs.ts        # inputs.safetensors (seedmask's init, batches)
    /usr/bin/python3 weights/make_train_equivalence.py    # reference.json, final.safetensors

Reads test/fixtures/train-equivalence/inputs.safetensors: the initial weights exactly as seedmask
initialises them (PyTorch names and layouts), the batch images (normalised, float32) and labels
(uint8, 255 void), and the settings (JSON in the metadata). Builds the same segmenter as
src/train/segmenter.ts in torch.nn:

    stem      conv3x3 (stride 1, no bias) -> BN -> ReLU -> max-pool 3x3 stride 2 padding 1
    layers.i  (i >= 1) down: conv3x3 stride 2 -> BN -> ReLU; then for every i a residual block
              conv3x3 -> BN -> ReLU -> conv3x3 -> BN, + input, ReLU
    classifier conv1x1 with bias; F.interpolate bilinear (align_corners=False) to the input size

and trains it for `steps` steps of torch.optim.SGD (momentum, weight decay on convolution weights
only, poly learning rate base * (1 - it/steps)^power with `it` from 0, the classifier at
head_lr_mult times the rate) on F.cross_entropy(ignore_index=255), BN in training mode. Step k
trains on batches[k % len(batches)].

It runs twice on the same inputs: in float32 (the reference seedmask is compared with) and in
float64 (to measure PyTorch's own float32 error on the same training run, the yardstick for the
tolerances). One thread, deterministic algorithms.

Writes to test/fixtures/train-equivalence/:
  reference.json      torch and NumPy versions; the learning rate, float32 loss and float64 loss
                      per step; per final tensor the largest |float32 - float64| (torch32_err);
                      the loss spread of float32 runs from slightly perturbed initial weights
                      (perturbed_loss_rel_dev: how chaotic the run is at float32 resolution)
  final.safetensors   the float32 run's weights and running statistics after the last step
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DIR = os.path.join(ROOT, "test", "fixtures", "train-equivalence")
IGNORE = 255
PERTURBATION = 1e-7
TRIALS = 8

NP_DTYPES = {"F32": np.float32, "F64": np.float64, "U8": np.uint8}


def read_safetensors(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype=NP_DTYPES[e["dtype"]]).reshape(e["shape"]).copy()
    return out, meta


def write_safetensors(path: str, tensors: list[tuple[str, np.ndarray]], meta: dict[str, str]) -> None:
    header: dict = {"__metadata__": meta}
    offset = 0
    for name, a in tensors:
        assert a.dtype == np.float32
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * ((-(8 + len(js))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for _, a in tensors:
            f.write(np.ascontiguousarray(a).tobytes())


class ConvBn(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, eps: float, momentum: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps, momentum=momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class Layer(nn.Module):
    def __init__(self, cin: int, width: int, down: bool, eps: float, momentum: float) -> None:
        super().__init__()
        if down:
            self.down = ConvBn(cin, width, 2, eps, momentum)
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=eps, momentum=momentum)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width, eps=eps, momentum=momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "down"):
            x = self.down(x)
        a = F.relu(self.bn1(self.conv1(x)))
        b = self.bn2(self.conv2(a))
        return F.relu(b + x)


class Segmenter(nn.Module):
    def __init__(self, classes: int, widths: list[int], in_channels: int, eps: float, momentum: float) -> None:
        super().__init__()
        self.stem = ConvBn(in_channels, widths[0], 1, eps, momentum)
        self.layers = nn.ModuleList(
            Layer(widths[max(i - 1, 0)], w, i > 0, eps, momentum) for i, w in enumerate(widths)
        )
        self.classifier = nn.Conv2d(widths[-1], classes, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(self.stem(x), 3, stride=2, padding=1)
        for layer in self.layers:
            h = layer(h)
        return F.interpolate(self.classifier(h), size=x.shape[2:], mode="bilinear", align_corners=False)


def poly_lr(base: float, it: int, max_iter: int, power: float) -> float:
    return base * (1 - it / max_iter) ** power


def perturbed(init: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The convolution weights times (1 + 1e-7 * N(0, 1)): float32 rounding-sized changes."""
    rng = np.random.default_rng(seed)
    return {k: (v * (1 + PERTURBATION * rng.standard_normal(v.shape))).astype(np.float32) if v.ndim == 4 else v for k, v in init.items()}


def train(s: dict, init: dict[str, np.ndarray], images: np.ndarray, labels: np.ndarray, dtype: torch.dtype):
    cfg = s["config"]
    model = Segmenter(cfg["classes"], cfg["widths"], cfg.get("inChannels", 3), s["bnEps"], s["bnMomentum"])
    state = model.state_dict()
    missing = [k for k in state if k not in init and not k.endswith("num_batches_tracked")]
    assert not missing, f"inputs lack {missing}"
    model.load_state_dict({k: torch.from_numpy(init[k]) for k in state if k in init}, strict=False)
    model = model.to(dtype).train()

    # Weight decay on convolution weights (the 4-D parameters) only; the classifier at head_lr_mult.
    groups: dict[tuple[bool, float], list] = {}
    for name, p in model.named_parameters():
        key = (p.dim() == 4, s["headLrMult"] if name.startswith("classifier.") else 1.0)
        groups.setdefault(key, []).append(p)
    opt = torch.optim.SGD(
        [{"params": ps, "weight_decay": s["weightDecay"] if decay else 0.0, "mult": mult} for (decay, mult), ps in groups.items()],
        lr=s["lr"], momentum=s["momentum"], foreach=False,
    )
    x_all = torch.from_numpy(images).to(dtype)
    y_all = torch.from_numpy(labels.astype(np.int64))
    losses, lrs = [], []
    for k in range(s["steps"]):
        lr = poly_lr(s["lr"], k, s["steps"], s["power"])
        for g in opt.param_groups:
            g["lr"] = lr * g["mult"]
        idx = s["batches"][k % len(s["batches"])]
        out = model(x_all[idx])
        loss = F.cross_entropy(out, y_all[idx], ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        lrs.append(lr)
    final = {k: v.detach().to(torch.float64).numpy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    return losses, lrs, final


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    tensors, meta = read_safetensors(os.path.join(DIR, "inputs.safetensors"))
    s = json.loads(meta["settings"])
    images, labels = tensors.pop("batch.images"), tensors.pop("batch.labels")
    losses32, lrs, final32 = train(s, tensors, images, labels, torch.float32)
    losses64, _, final64 = train(s, tensors, images, labels, torch.float64)
    # How far float32-sized differences alone move this run: the float32 training again from
    # perturbed initial weights, the largest relative loss change against float64 over the steps.
    # Where max-pool windows hold near-ties or ReLU inputs sit near 0, a perturbation that flips one
    # sends a gradient elsewhere; a run where that moves the loss by more than the bar could not
    # tell an implementation difference from chance (at lr 0.02 this network moved by up to 1e-3).
    spread = []
    for trial in range(TRIALS):
        lp, _, _ = train(s, perturbed(tensors, trial), images, labels, torch.float32)
        spread.append(max(abs(a - b) / abs(b) for a, b in zip(lp, losses64)))
    names = [k for k in tensors]  # seedmask's spec order
    torch32_err = {k: float(np.max(np.abs(final32[k] - final64[k]))) for k in names}
    loss_rel = [abs(a - b) / abs(b) for a, b in zip(losses32, losses64)]
    ref = {
        "generator": "weights/make_train_equivalence.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "settings": s,
        "lr": lrs,
        "loss_f32": losses32,
        "loss_f64": losses64,
        "loss_f32_rel_err": loss_rel,
        "torch32_err": torch32_err,
        "perturbation": PERTURBATION,
        "perturbed_loss_rel_dev": spread,
    }
    with open(os.path.join(DIR, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    write_safetensors(
        os.path.join(DIR, "final.safetensors"),
        [(k, final32[k].astype(np.float32)) for k in names],
        {"generator": "weights/make_train_equivalence.py", "torch": torch.__version__},
    )
    print(f"torch {torch.__version__}: {s['steps']} steps; loss {losses32[0]:.6f} -> {losses32[-1]:.6f}")
    print(f"  torch float32 vs float64: loss max rel {max(loss_rel):.2e}; weights max |err| {max(torch32_err.values()):.2e}")
    print(f"  float32 from init perturbed by {PERTURBATION:g} relative ({TRIALS} trials): loss max rel {max(spread):.2e}")


if __name__ == "__main__":
    main()
