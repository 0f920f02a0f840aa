#!/usr/bin/env python3
"""Golden gradients from PyTorch autograd for seedmask's training kernels (src/kernels/train/,
test/train/*.test.ts).

Usage (from the repository root; Debian's python3-torch, so /usr/bin/python3):

    /usr/bin/python3 weights/make_train_goldens.py      # writes test/fixtures/train/goldens.{json,bin}

Every case draws its inputs in float32 (a seeded torch.Generator), so that the float64 runs and the
GPU see the same numbers, then runs the forward and autograd in float64; the float64 results are
the references. Where the float32 arithmetic itself is part of the contract (bilinear weights,
optimizer steps) the float32 run of the same code is stored too (`*_f32`), and for every
reference the largest |float32 torch - float64 torch| is recorded in the header (`torch32_err`),
a yardstick for the tolerances (PyTorch's own float32 error on the same problem).
Linear ops also store `*_abs`: the same gradient computed from the absolute values of the inputs,
i.e. the sum of |terms| of each output, from which the tests derive per-element error bounds
(gamma_n * sum |terms|).

Layouts are seedmask's: NCHW; convolution weights (and their gradients) in [Cout, KH, KW, Cin/groups]
order (src/kernels/conv.ts, "OHWI"); max-pool indices flat within the plane (iy * W + ix), u32;
labels u32 per pixel with 255 ignored.

Cases (sizes chosen awkward; non-square parameters catch swapped axes):
  conv_s2d2      x [2, 3, 13, 11], w [5, 3, 3, 3], stride 2, padding 2, dilation 2, groups 1, bias
  conv_dw        x [2, 4, 13, 11], w [8, 3, 3, 1] (depthwise, 2 outputs per channel), stride (1, 2),
                 padding (2, 1), dilation (2, 1), groups 4, bias
  conv_grouped   x [2, 6, 9, 7], w [4, 2, 3, 3] (kernel 2x3), stride 1, padding 1, groups 2, no bias
  bn             x [2, 7, 9, 11] with per-channel offsets and scales; training (batch statistics,
                 running averages with momentum 0.1, eps 1e-5) and frozen (eval) mode, both backward
  relu           x [2, 3, 5, 7] with exact zeros
  maxpool        x [2, 3, 13, 11] quantised to 9 levels (many ties: the first maximum wins),
                 kernel 3, stride 2, padding 1
  maxpool_dil    x [1, 2, 12, 10], kernel (3, 2), stride (2, 1), padding (1, 0), dilation (2, 2), ceil_mode
  bilinear_half  [2, 3, 7, 9] -> 13 x 17, align_corners False
  bilinear_align [2, 3, 7, 9] -> 13 x 17, align_corners True
  bilinear_scale [1, 2, 7, 9], scale_factor 1.7 (-> 11 x 15), align_corners False
  ce_weighted    logits [2, 5, 13, 11], ~15 % of labels 255, class weights
  ce_plain       the same without weights
  sgd            3 steps of SGD (momentum 0.9, weight decay 1e-2, poly lr from 0.1 over 5 iterations,
                 power 0.9) on p [37] with given gradients; and the same with Nesterov and with
                 dampening 0.25 (no Nesterov)
  adamw          3 steps of AdamW (lr 0.05, betas (0.9, 0.999), eps 1e-8, weight decay 0.05) on p [37]
  chain          a small residual network: h = relu(bn(conv3x3(x)) + x); p = maxpool3x3s2p1(h);
                 logits = conv1x1(p) + b; up = bilinear(logits, 13 x 11, align_corners False);
                 loss = cross_entropy(up, labels, weights, ignore 255): loss and every gradient
Files: goldens.json (header, cases, array index: byte offset, dtype f32/f64/u32, shape) and goldens.bin
(the arrays, little-endian, each starting at a multiple of 8 bytes).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_blob import Blob  # noqa: E402
import torch
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join("test", "fixtures", "train", "goldens")
IGNORE = 255


def f32(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float32).numpy()


def f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).numpy()


def leaf(t: torch.Tensor, dt) -> torch.Tensor:
    """A fresh leaf of t's values in dtype dt (never t itself, which other runs reuse)."""
    return t.detach().clone().to(dt).requires_grad_(True)


def ohwi(w: torch.Tensor) -> torch.Tensor:
    """PyTorch's [Cout, Cin/g, KH, KW] as seedmask's [Cout, KH, KW, Cin/g]."""
    return w.permute(0, 2, 3, 1).contiguous()


class Case:
    def __init__(self, blob: Blob, name: str, seed: int, **params) -> None:
        self.blob, self.name = blob, name
        self.gen = torch.Generator().manual_seed(seed)
        self.record = {"name": name, "seed": seed, **params, "arrays": {}, "torch32_err": {}}

    def randn(self, *shape, scale: float = 1.0) -> torch.Tensor:
        """float32 draws, returned as float64 (exactly the same values)."""
        return (torch.randn(*shape, generator=self.gen, dtype=torch.float32) * scale).to(torch.float64)

    def uniform(self, *shape, lo: float, hi: float) -> torch.Tensor:
        return (lo + (hi - lo) * torch.rand(*shape, generator=self.gen, dtype=torch.float32)).to(torch.float64)

    def put(self, key: str, a) -> None:
        if isinstance(a, torch.Tensor):
            a = a.detach().numpy()
        self.record["arrays"][key] = self.blob.add(np.asarray(a))

    def ref(self, key: str, v64: torch.Tensor, v32: torch.Tensor | None = None, store32: bool = False) -> None:
        """A float64 reference; with its float32 twin, the twin's largest error (and the twin itself if asked)."""
        self.put(key, f64(v64))
        if v32 is not None:
            self.record["torch32_err"][key] = float(np.max(np.abs(f64(v32) - f64(v64)), initial=0.0))
            if store32:
                self.put(key + "_f32", f32(v32))


# ------------------------------------------------------------------------------------------------
# Convolution


def conv_case(blob: Blob, name: str, seed: int, xs, ws_oihw, stride, padding, dilation, groups, bias: bool) -> dict:
    c = Case(blob, name, seed, x_shape=list(xs), w_shape_ohwi=[ws_oihw[0], ws_oihw[2], ws_oihw[3], ws_oihw[1]],
             stride=list(stride), padding=list(padding), dilation=list(dilation), groups=groups, bias=bias)
    x = c.randn(*xs)
    w = c.randn(*ws_oihw, scale=0.5)
    b = c.randn(ws_oihw[0]) if bias else None
    conv = lambda x_, w_, b_: F.conv2d(x_, w_, b_, stride=stride, padding=padding, dilation=dilation, groups=groups)
    y_shape = conv(x, w, b).shape
    dy = c.randn(*y_shape)
    c.record["y_shape"] = list(y_shape)
    c.put("x", f32(x))
    c.put("w", f32(ohwi(w)))
    c.put("dy", f32(dy))
    grads = {}
    for dt in (torch.float64, torch.float32):
        xl, wl = leaf(x, dt), leaf(w, dt)
        bl = leaf(b, dt) if bias else None
        (conv(xl, wl, bl) * dy.to(dt)).sum().backward()
        grads[dt] = (xl.grad, ohwi(wl.grad), bl.grad if bias else None)
    c.ref("dx", grads[torch.float64][0], grads[torch.float32][0])
    c.ref("dw", grads[torch.float64][1], grads[torch.float32][1])
    if bias:
        c.ref("db", grads[torch.float64][2], grads[torch.float32][2])
    # Σ|terms| per gradient element: the same gradients from |x|, |w|, |dy|.
    xa, wa = leaf(x.abs(), torch.float64), leaf(w.abs(), torch.float64)
    (conv(xa, wa, None) * dy.abs()).sum().backward()
    c.put("dx_abs", f32(xa.grad))
    c.put("dw_abs", f32(ohwi(wa.grad)))
    if bias:
        c.put("db_abs", f32(dy.abs().sum(dim=(0, 2, 3))))
    return c.record


# ------------------------------------------------------------------------------------------------
# Batch norm


def bn_case(blob: Blob, seed: int) -> dict:
    n, ch, h, w = 2, 7, 9, 11
    momentum, eps = 0.1, 1e-5
    c = Case(blob, "bn", seed, x_shape=[n, ch, h, w], momentum=momentum, eps=eps)
    offset = c.uniform(1, ch, 1, 1, lo=-3.0, hi=3.0)
    spread = c.uniform(1, ch, 1, 1, lo=0.25, hi=4.0)
    x = (c.randn(n, ch, h, w) * spread + offset).to(torch.float32).to(torch.float64)
    gamma = c.uniform(ch, lo=0.5, hi=1.5)
    beta = c.randn(ch, scale=0.5)
    rmean = c.randn(ch, scale=0.5)
    rvar = c.uniform(ch, lo=0.5, hi=2.0)
    g = c.randn(n, ch, h, w)
    for key, t in (("x", x), ("gamma", gamma), ("beta", beta), ("running_mean", rmean), ("running_var", rvar), ("g", g)):
        c.put(key, f32(t))
    for mode in ("train", "eval"):
        out = {}
        for dt in (torch.float64, torch.float32):
            bn = torch.nn.BatchNorm2d(ch, eps=eps, momentum=momentum).to(dt)
            with torch.no_grad():
                bn.weight.copy_(gamma)
                bn.bias.copy_(beta)
                bn.running_mean.copy_(rmean)
                bn.running_var.copy_(rvar)
            bn.train(mode == "train")
            xl = leaf(x, dt)
            y = bn(xl)
            (y * g.to(dt)).sum().backward()
            xd = x.to(dt)
            if mode == "train":
                mean = xd.mean(dim=(0, 2, 3))
                var = xd.var(dim=(0, 2, 3), unbiased=False)
            else:
                mean, var = rmean.to(dt), rvar.to(dt)
            out[dt] = dict(y=y, dx=xl.grad, dgamma=bn.weight.grad, dbeta=bn.bias.grad,
                           running_mean=bn.running_mean, running_var=bn.running_var,
                           mean=mean, rstd=1.0 / torch.sqrt(var + eps))
        for key in ("y", "dx", "dgamma", "dbeta", "mean", "rstd") + (("running_mean", "running_var") if mode == "train" else ()):
            c.ref(f"{mode}_{key}", out[torch.float64][key], out[torch.float32][key])
    return c.record


def relu_case(blob: Blob, seed: int) -> dict:
    c = Case(blob, "relu", seed, x_shape=[2, 3, 5, 7])
    x = c.randn(2, 3, 5, 7)
    x[x.abs() < 0.2] = 0.0
    g = c.randn(2, 3, 5, 7)
    xl = leaf(x, torch.float64)
    y = F.relu(xl)
    (y * g).sum().backward()
    c.put("x", f32(x))
    c.put("g", f32(g))
    c.ref("y", y)
    c.ref("dx", xl.grad)
    return c.record


# ------------------------------------------------------------------------------------------------
# Max pooling


def pool_case(blob: Blob, name: str, seed: int, xs, kernel, stride, padding, dilation, ceil_mode: bool, levels: int | None) -> dict:
    c = Case(blob, name, seed, x_shape=list(xs), kernel=list(kernel), stride=list(stride), padding=list(padding),
             dilation=list(dilation), ceil_mode=ceil_mode)
    x = c.randn(*xs)
    if levels:
        half = (levels - 1) // 2  # levels -1 .. 1 in steps of 1/half, exact in float32: ties between taps
        x = torch.clamp(torch.round(x * half), -half, half) / half
    pool = lambda t: F.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
    y, idx = pool(x)
    g = c.randn(*y.shape)
    c.record["y_shape"] = list(y.shape)
    xl = leaf(x, torch.float64)
    (pool(xl)[0] * g).sum().backward()
    c.put("x", f32(x))
    c.put("g", f32(g))
    c.ref("y", y)
    c.put("indices", idx.numpy().astype(np.uint32))
    c.ref("dx", xl.grad)
    return c.record


# ------------------------------------------------------------------------------------------------
# Bilinear resize


def bilinear_case(blob: Blob, name: str, seed: int, xs, size=None, scale=None, align=False) -> dict:
    c = Case(blob, name, seed, x_shape=list(xs), align_corners=align)
    kw = dict(mode="bilinear", align_corners=align)
    if size is not None:
        kw["size"] = size
    else:
        kw["scale_factor"] = scale
        c.record["scale_factor"] = scale
    x = c.randn(*xs)
    y_shape = F.interpolate(x, **kw).shape
    c.record["y_shape"] = list(y_shape)
    g = c.randn(*y_shape)
    c.put("x", f32(x))
    c.put("g", f32(g))
    out = {}
    for dt in (torch.float64, torch.float32):
        xl = leaf(x, dt)
        (F.interpolate(xl, **kw) * g.to(dt)).sum().backward()
        out[dt] = xl.grad
    c.ref("dx", out[torch.float64], out[torch.float32], store32=True)
    xa = leaf(x, torch.float64)
    (F.interpolate(xa, **kw) * g.abs()).sum().backward()
    c.put("dx_abs", f32(xa.grad))  # weights are ≥ 0: this is Σ|terms|
    return c.record


# ------------------------------------------------------------------------------------------------
# Cross-entropy


def ce_case(blob: Blob, name: str, seed: int, weighted: bool) -> dict:
    n, ch, h, w = 2, 5, 13, 11
    c = Case(blob, name, seed, logits_shape=[n, ch, h, w], ignore_index=IGNORE, weighted=weighted)
    logits = c.randn(n, ch, h, w, scale=3.0)
    labels = torch.randint(0, ch, (n, h, w), generator=c.gen)
    labels[torch.rand(n, h, w, generator=c.gen) < 0.15] = IGNORE
    weights = c.uniform(ch, lo=0.2, hi=2.0) if weighted else None
    c.put("logits", f32(logits))
    c.put("labels", labels.numpy().astype(np.uint32))
    if weighted:
        c.put("class_weight", f32(weights))
    out = {}
    for dt in (torch.float64, torch.float32):
        ll = leaf(logits, dt)
        loss = F.cross_entropy(ll, labels, weight=weights.to(dt) if weighted else None, ignore_index=IGNORE)
        loss.backward()
        out[dt] = (loss, ll.grad)
    c.ref("loss", out[torch.float64][0].reshape(1), out[torch.float32][0].reshape(1))
    c.ref("dlogits", out[torch.float64][1], out[torch.float32][1])
    valid = labels != IGNORE
    c.record["weight_sum"] = float(weights[labels[valid]].sum()) if weighted else int(valid.sum())
    return c.record


# ------------------------------------------------------------------------------------------------
# Optimizers


def poly(base: float, it: int, max_iter: int, power: float) -> float:
    return base * (1 - it / max_iter) ** power


def optimizer_run(make, p0: torch.Tensor, grads: list, lrs: list, dt):
    p = torch.nn.Parameter(p0.to(dt).clone())
    opt = make([p])
    params = []
    for g, lr in zip(grads, lrs):
        for group in opt.param_groups:
            group["lr"] = lr
        p.grad = g.to(dt).clone()
        opt.step()
        params.append(p.detach().clone())
    return torch.stack(params), opt.state[p]


def sgd_case(blob: Blob, name: str, seed: int, nesterov: bool, dampening: float) -> dict:
    steps, size, base, max_iter, power, momentum, wd = 3, 37, 0.1, 5, 0.9, 0.9, 1e-2
    lrs = [poly(base, i, max_iter, power) for i in range(steps)]
    c = Case(blob, name, seed, size=size, steps=steps, lr=lrs, base_lr=base, max_iter=max_iter, power=power,
             momentum=momentum, dampening=dampening, weight_decay=wd, nesterov=nesterov)
    p0 = c.randn(size)
    grads = [c.randn(size) for _ in range(steps)]
    c.put("p0", f32(p0))
    c.put("grads", f32(torch.stack(grads)))
    make = lambda ps: torch.optim.SGD(ps, lr=base, momentum=momentum, dampening=dampening, weight_decay=wd, nesterov=nesterov)
    p64, s64 = optimizer_run(make, p0, grads, lrs, torch.float64)
    p32, s32 = optimizer_run(make, p0, grads, lrs, torch.float32)
    c.ref("params", p64, p32, store32=True)
    c.ref("momentum_buffer", s64["momentum_buffer"], s32["momentum_buffer"])
    return c.record


def adamw_case(blob: Blob, seed: int) -> dict:
    steps, size, lr, betas, eps, wd = 3, 37, 0.05, (0.9, 0.999), 1e-8, 0.05
    c = Case(blob, "adamw", seed, size=size, steps=steps, lr=[lr] * steps, betas=list(betas), eps=eps, weight_decay=wd)
    p0 = c.randn(size)
    grads = [c.randn(size, scale=0.1 * (i + 1)) for i in range(steps)]
    grads[1][:5] = 0.0  # zero gradients: the update is then the moments' memory alone
    c.put("p0", f32(p0))
    c.put("grads", f32(torch.stack(grads)))
    make = lambda ps: torch.optim.AdamW(ps, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    p64, s64 = optimizer_run(make, p0, grads, [lr] * steps, torch.float64)
    p32, s32 = optimizer_run(make, p0, grads, [lr] * steps, torch.float32)
    c.ref("params", p64, p32, store32=True)
    c.ref("exp_avg", s64["exp_avg"], s32["exp_avg"])
    c.ref("exp_avg_sq", s64["exp_avg_sq"], s32["exp_avg_sq"])
    return c.record


# ------------------------------------------------------------------------------------------------
# A small network end to end


def chain_case(blob: Blob, seed: int) -> dict:
    n, ch, h, w, classes = 2, 4, 13, 11, 5
    eps, momentum = 1e-5, 0.1
    c = Case(blob, "chain", seed, x_shape=[n, ch, h, w], classes=classes, eps=eps, momentum=momentum, ignore_index=IGNORE)
    x = c.randn(n, ch, h, w)
    w1 = c.randn(ch, ch, 3, 3, scale=0.3)
    gamma = c.uniform(ch, lo=0.5, hi=1.5)
    beta = c.randn(ch, scale=0.2)
    w2 = c.randn(classes, ch, 1, 1, scale=0.5)
    b2 = c.randn(classes, scale=0.1)
    labels = torch.randint(0, classes, (n, h, w), generator=c.gen)
    labels[torch.rand(n, h, w, generator=c.gen) < 0.15] = IGNORE
    weights = c.uniform(classes, lo=0.5, hi=1.5)
    for key, t in (("x", x), ("gamma", gamma), ("beta", beta), ("class_weight", weights)):
        c.put(key, f32(t))
    c.put("w1", f32(ohwi(w1)))
    c.put("w2", f32(ohwi(w2)))
    c.put("b2", f32(b2))
    c.put("labels", labels.numpy().astype(np.uint32))
    out = {}
    for dt in (torch.float64, torch.float32):
        leaves = [leaf(t, dt) for t in (x, w1, gamma, beta, w2, b2)]
        xl, w1l, gl, bl, w2l, b2l = leaves
        hidden = F.relu(F.batch_norm(F.conv2d(xl, w1l, padding=1), None, None, gl, bl, training=True, momentum=momentum, eps=eps) + xl)
        pooled = F.max_pool2d(hidden, 3, 2, 1)
        logits = F.conv2d(pooled, w2l, b2l)
        up = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        loss = F.cross_entropy(up, labels, weight=weights.to(dt), ignore_index=IGNORE)
        loss.backward()
        out[dt] = dict(loss=loss.reshape(1), dx=xl.grad, dw1=ohwi(w1l.grad), dgamma=gl.grad, dbeta=bl.grad, dw2=ohwi(w2l.grad), db2=b2l.grad)
    for key in ("loss", "dx", "dw1", "dgamma", "dbeta", "dw2", "db2"):
        c.ref(key, out[torch.float64][key], out[torch.float32][key])
    return c.record


def main() -> None:
    torch.set_num_threads(1)  # float32 reductions in one fixed order: the file regenerates byte-identical
    blob = Blob()
    cases = [
        conv_case(blob, "conv_s2d2", 101, (2, 3, 13, 11), (5, 3, 3, 3), (2, 2), (2, 2), (2, 2), 1, True),
        conv_case(blob, "conv_dw", 102, (2, 4, 13, 11), (8, 1, 3, 3), (1, 2), (2, 1), (2, 1), 4, True),
        conv_case(blob, "conv_grouped", 103, (2, 6, 9, 7), (4, 3, 2, 3), (1, 1), (1, 1), (1, 1), 2, False),
        bn_case(blob, 201),
        relu_case(blob, 301),
        pool_case(blob, "maxpool", 401, (2, 3, 13, 11), (3, 3), (2, 2), (1, 1), (1, 1), False, 9),
        pool_case(blob, "maxpool_dil", 402, (1, 2, 12, 10), (3, 2), (2, 1), (1, 0), (2, 2), True, None),
        bilinear_case(blob, "bilinear_half", 501, (2, 3, 7, 9), size=(13, 17), align=False),
        bilinear_case(blob, "bilinear_align", 502, (2, 3, 7, 9), size=(13, 17), align=True),
        bilinear_case(blob, "bilinear_scale", 503, (1, 2, 7, 9), scale=1.7, align=False),
        ce_case(blob, "ce_weighted", 601, True),
        ce_case(blob, "ce_plain", 602, False),
        sgd_case(blob, "sgd", 701, False, 0.0),
        sgd_case(blob, "sgd_nesterov", 702, True, 0.0),
        sgd_case(blob, "sgd_dampening", 703, False, 0.25),
        adamw_case(blob, 704),
        chain_case(blob, 801),
    ]
    data = blob.bytes()
    header = {
        "generator": "weights/make_train_goldens.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "bin_bytes": len(data),
        "bin_sha256": hashlib.sha256(data).hexdigest(),
        "cases": {c["name"]: c for c in cases},
    }
    out = os.path.join(ROOT, OUT)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".bin", "wb") as f:
        f.write(data)
    with open(out + ".json", "w") as f:
        json.dump(header, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}.json and {OUT}.bin ({len(data)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
