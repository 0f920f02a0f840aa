#!/usr/bin/env python3
"""A training-step golden for seedmask's trainable DeepLab-v2 (src/train/deeplab.ts) from the
original code: kazuto1011/deeplab-pytorch at a pinned commit, run here, nothing re-typed.

    git clone https://github.com/kazuto1011/deeplab-pytorch /tmp/src/deeplab-pytorch
    /usr/bin/python3 weights/make_deeplabv2_train_golden.py --deeplab /tmp/src/deeplab-pytorch

--deeplab is a clone (work tree or bare git directory: the pinned commit is unpacked from it with
`git archive`, whatever is checked out) or an unpacked source folder of that commit (then the commit
is not verified and the header says so). Writes test/fixtures/train/deeplabv2/ (--out):

  init.pth      torch.save of the MSC model's state_dict (`base.` keys, the layout the original's
                main.py saves and seedmask's DeepLab loader reads), random weights, float32
  init-deeplabv1.pth
                a COCO-style initialisation with init.pth's backbone: torch.save of the original's
                DeepLabV1 (same reduction, FC_CLASSES classes) state_dict, the layout convert.py
                writes for deeplabv1_resnet101-coco.pth (bare keys, a 1x1 `fc` instead of the ASPP,
                BN running statistics float64)
  golden.json   provenance, settings, the parameter groups as the original builds them, the
                PolynomialLR schedule it runs, per array its offset/dtype/shape in golden.bin, and
                torch32_err: per reference the largest |float32 torch - float64 torch|
  golden.bin    the arrays, little-endian, each at a multiple of 8 bytes

What runs from the original (libs/models/{resnet,deeplabv2,msc}.py, main.py, libs/utils/lr_scheduler.py):
  - the model: DeepLabV2.__init__ itself, with the names it calls (_Stem, _ResLayer, _ASPP) wrapped so
    that every channel count is divided by WIDTH (the 3 image channels and the classes excepted);
    blocks per layer N_BLOCKS instead of [3, 4, 23, 3]; the MSC wrapper (scales 0.5, 0.75) around it;
  - main.py's get_params (taken out of main.py by its syntax tree and executed alone; main.py's
    other imports are not needed) for the three parameter groups, and its resize_labels (PIL nearest)
    for the labels of each logit map;
  - model.train() then base.freeze_bn(), as main.py's train() does before its loop;
  - PolynomialLR (libs/utils/lr_scheduler.py) for the recorded schedule;
  - for init-deeplabv1.pth: DeepLabV1.__init__ (libs/models/deeplabv1.py) narrowed the same way, and
    main.py's `model.base.load_state_dict(state_dict, strict=False)  # to skip ASPP` on a fresh MSC
    model, asserted to report exactly the ASPP keys missing and the `fc` keys unexpected, and to
    leave the backbone equal to init.pth's.
The training step itself is main.py's (its train() is a click command over a dataset, so the loop
body is written out here): SGD with the three groups (lr x1 with weight decay, x10 with weight
decay, x20 without), momentum from configs/voc12.yaml, loss = sum over the model's outputs of
CrossEntropyLoss(ignore_index=255) against the labels resized to each output. main.py passes
size=(H, W) to PIL's resize, which takes (width, height): right only for square crops (its 321x321);
this non-square golden passes (W, H).

Two objectives are recorded:
  base  the single-scale network (model.base): loss on its stride-8 logits, labels resized to them
  msc   the original's: the MSC model's four outputs (scale 1, 0.5, 0.75, and their max), one loss each
and for each, two SGD steps from the same initial weights (the second exercises the momentum).

References are float64: the float32 weights and inputs are copied into a float64 model (.double())
and run there; the float32 run of the same code gives torch32_err. Stored as float32 (the rounding,
6e-8 relative, is far below any tolerance). Layouts are PyTorch's (convolution weights and their
gradients [Cout, Cin, KH, KW]); labels u8, 255 ignored.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import sys
import tempfile
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures"))
from originals import extract_pinned  # noqa: E402

REPO = "https://github.com/kazuto1011/deeplab-pytorch"
COMMIT = "4219467fa5de07985f834f1bd8c04c186dc8f6d8"
FILES = ["libs/__init__.py", "libs/models", "libs/utils/lr_scheduler.py", "main.py", "configs/voc12.yaml"]

WIDTH = 16  # channel divisor: stem 4, layer outputs 16, 32, 64, 128
N_BLOCKS = [1, 1, 2, 1]  # two blocks in layer 4: an identity shortcut around a dilated (2) block
CLASSES = 5
SIZE = (97, 121)  # odd, non-square; stride-8 logits 13 x 16, MSC branches 7 x 8 and 10 x 12
# 10x and 100x voc12.yaml's 2.5e-4 and 5e-4: each group's learning rate and weight decay then move
# the weights well beyond the float32 error of the gradients (with 5e-4 the decay of the small ASPP
# weights would be invisible). Momentum and the groups are the original's.
LR = 2.5e-3
WEIGHT_DECAY = 0.05
SEED = 20240601
# DeepLabV1's classifier in init-deeplabv1.pth: COCO's 91 (convert.py's N_CLASSES), unlike CLASSES,
# so that nothing of it can pass for an ASPP. Its values come from a generator of their own: the
# golden's draws from SEED stay as they are.
FC_CLASSES = 91
FC_SEED = SEED + 1

# Gradients and updates recorded (the whole model's would be ~300 KB per set): the stem (the longest
# backward path), a projection shortcut, a dilated 3x3 of a second block, a layer-5 1x1, one ASPP
# branch and every ASPP bias (x20, no decay).
RECORDED = [
    "base.layer1.conv1.conv.weight",
    "base.layer3.block1.shortcut.conv.weight",
    "base.layer4.block2.conv3x3.conv.weight",
    "base.layer5.block1.reduce.conv.weight",
    "base.aspp.c1.weight",
    "base.aspp.c0.bias",
    "base.aspp.c1.bias",
    "base.aspp.c2.bias",
    "base.aspp.c3.bias",
]


def original_functions(main_py: str, names: "list[str]") -> dict:
    """The named top-level functions of main.py, executed alone (its imports are not needed)."""
    tree = ast.parse(open(main_py).read(), main_py)
    nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    if sorted(n.name for n in nodes) != sorted(names):
        sys.exit(f"{main_py}: expected functions {names}")
    # resize_labels ends with torch.LongTensor(list of float32 arrays), which torch 1.13 refuses (older
    # versions converted); the same conversion through one array, everything else as it is.
    shim = type("torch", (), {"LongTensor": staticmethod(lambda a: torch.from_numpy(np.array(a).astype(np.int64)))})
    scope = {"nn": nn, "torch": shim if names == ["resize_labels"] else torch, "np": np, "Image": Image}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), main_py, "exec"), scope)
    return {n: scope[n] for n in names}


def build(rates):
    """DeepLabV2_ResNet101_MSC's structure at 1/WIDTH channels and N_BLOCKS depth, by the original's
    own DeepLabV2.__init__ (the sub-module constructors it calls are narrowed, nothing else)."""
    v2 = importlib.import_module("libs.models.deeplabv2")
    resnet = importlib.import_module("libs.models.resnet")
    msc = importlib.import_module("libs.models.msc")
    saved = (v2._Stem, v2._ResLayer, v2._ASPP)
    stem, res_layer, aspp = saved
    v2._Stem = lambda out_ch: stem(out_ch // WIDTH)
    v2._ResLayer = lambda n, in_ch, out_ch, stride, dilation: res_layer(n, in_ch // WIDTH, out_ch // WIDTH, stride, dilation)

    def narrow_aspp(in_ch, out_ch, r):
        # _ASPP.__init__ names its own class (super(_ASPP, self)): the original while it runs.
        v2._ASPP = aspp
        try:
            return aspp(in_ch // WIDTH, out_ch, r)
        finally:
            v2._ASPP = narrow_aspp

    v2._ASPP = narrow_aspp
    try:
        base = v2.DeepLabV2(n_classes=CLASSES, n_blocks=N_BLOCKS, atrous_rates=rates)
    finally:
        v2._Stem, v2._ResLayer, v2._ASPP = saved
    assert resnet._ConvBnReLU.BATCH_NORM is nn.BatchNorm2d
    return msc.MSC(base=base, scales=[0.5, 0.75]), resnet


def build_v1():
    """The original's DeepLabV1 (the container of the COCO initialisation) narrowed as `build`
    narrows DeepLabV2: its _Stem and _ResLayer by WIDTH, and its `fc`, whose input width 2048 is
    written out in __init__, through an `nn` whose Conv2d divides the input channels."""
    v1 = importlib.import_module("libs.models.deeplabv1")
    saved = (v1._Stem, v1._ResLayer, v1.nn)
    stem, res_layer, _ = saved

    class NarrowNn:
        def __getattr__(self, name):
            return getattr(nn, name)

        @staticmethod
        def Conv2d(in_ch, out_ch, *args, **kw):
            return nn.Conv2d(in_ch // WIDTH, out_ch, *args, **kw)

    v1._Stem = lambda out_ch: stem(out_ch // WIDTH)
    v1._ResLayer = lambda n, in_ch, out_ch, stride, dilation: res_layer(n, in_ch // WIDTH, out_ch // WIDTH, stride, dilation)
    v1.nn = NarrowNn()
    try:
        return v1.DeepLabV1(n_classes=FC_CLASSES, n_blocks=N_BLOCKS)
    finally:
        v1._Stem, v1._ResLayer, v1.nn = saved


def coco_style_init(init, rates):
    """init.pth's backbone in a DeepLabV1 state_dict as convert.py saves the COCO initialisation:
    no `base.` prefix, the `fc` classifier, and BN running statistics float64 (convert.py divides
    Caffe's accumulated mean and variance by its scale factor in NumPy float64 and torch.tensor keeps
    that; weights, BN gamma and beta come from Python float lists, float32). Checked by main.py's own
    load into a fresh MSC model."""
    v1 = build_v1()
    fc_gen = torch.Generator().manual_seed(FC_SEED)
    backbone = {k[len("base."):]: v for k, v in init.items() if k.startswith("base.") and not k.startswith("base.aspp.")}
    fc = {"fc.weight": torch.randn(v1.fc.weight.shape, generator=fc_gen) * 0.01, "fc.bias": torch.randn(v1.fc.bias.shape, generator=fc_gen) * 0.1}
    v1.load_state_dict({**backbone, **fc})  # strict: DeepLabV1 is exactly the backbone and fc
    state = {k: v.clone() for k, v in v1.state_dict().items()}
    for k in state:
        if k.endswith(".running_mean") or k.endswith(".running_var"):
            state[k] = state[k].double()

    # main.py: model.base.load_state_dict(state_dict, strict=False)  # to skip ASPP
    model, _ = build(rates)
    result = model.base.load_state_dict(state, strict=False)
    aspp = sorted(k for k in model.base.state_dict() if k.startswith("aspp."))
    assert len(aspp) == 2 * len(rates)
    assert sorted(result.missing_keys) == aspp, result.missing_keys
    assert sorted(result.unexpected_keys) == ["fc.bias", "fc.weight"], result.unexpected_keys
    loaded = model.state_dict()
    for k, v in init.items():
        if not k.startswith("base.aspp."):
            assert loaded[k].dtype == v.dtype and torch.equal(loaded[k], v), k
    return state


def randomise(model, resnet, images, gen):
    """Kaiming-normal convolutions, BN with gamma/beta drawn and running statistics calibrated on
    `images` (then perturbed), so that activations stay O(1) through the frozen BNs; the ASPP as the
    original initialises it (normal, std 0.01) but with nonzero biases, so that their update rule
    (no weight decay) is visible."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and "aspp" not in name:
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            m.weight.data = torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5
        elif isinstance(m, nn.Conv2d):
            m.weight.data = torch.randn(m.weight.shape, generator=gen) * 0.01
            m.bias.data = torch.randn(m.bias.shape, generator=gen) * 0.1
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data = 0.5 + torch.rand(m.weight.shape, generator=gen)
            m.bias.data = torch.randn(m.bias.shape, generator=gen) * 0.2
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch gives its statistics
    model.train()
    with torch.no_grad():
        model.base(images)
    for m in bns:
        m.momentum = 1 - 0.999  # the original's value (unused: frozen)
        m.running_mean.mul_(1 + 0.1 * (torch.rand(m.running_mean.shape, generator=gen) - 0.5))
        m.running_var.mul_(1 + 0.2 * (torch.rand(m.running_var.shape, generator=gen) - 0.5))
    assert isinstance(bns[0], resnet._ConvBnReLU.BATCH_NORM)


def make_image(n, gen):
    """Mean-subtracted BGR at the original's 0..255 scale: smooth random fields (a coarse grid
    resized bilinearly) plus weak pixel noise. Smooth like a photograph, so that the MSC branches'
    input resampling depends little on the last bits of the sampling positions (PyTorch keeps them
    unrounded where seedmask's resampler rounds them to float32: on white noise of this scale the
    0.75 input would differ by ~1e-3)."""
    h, w = SIZE
    coarse = torch.randn((n, 3, 9, 11), generator=gen) * 50
    return (F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True) + torch.randn((n, 3, h, w), generator=gen) * 2).float()


def make_labels(gen):
    """Blocky labels (7 x 9 pixel cells, so that nearest downsampling keeps every class) with ~15 %
    of cells and some single pixels 255."""
    h, w = SIZE
    cells = torch.randint(0, CLASSES, ((h + 6) // 7, (w + 8) // 9), generator=gen)
    cells[torch.rand(cells.shape, generator=gen) < 0.15] = 255
    lab = cells.repeat_interleave(7, 0).repeat_interleave(9, 1)[:h, :w].clone()
    lab[torch.rand((h, w), generator=gen) < 0.03] = 255
    return lab.unsqueeze(0)


class Arrays:
    def __init__(self):
        self.index, self.chunks, self.offset = {}, [], 0

    def add(self, key, a, dtype="f32"):
        a = np.ascontiguousarray(a.detach().cpu().numpy() if torch.is_tensor(a) else a)
        data = a.astype({"f32": "<f4", "u8": "u1"}[dtype]).tobytes()
        self.index[key] = {"offset": self.offset, "dtype": dtype, "shape": list(a.shape)}
        pad = (-len(data)) % 8
        self.chunks.append(data + b"\0" * pad)
        self.offset += len(data) + pad

    def blob(self):
        return b"".join(self.chunks)


def param_groups(model, get_params, lr, wd):
    # main.py's optimizer: cf. lr_mult and decay_mult in Caffe's train.prototxt.
    return [
        {"params": list(get_params(model, key="1x")), "lr": lr, "weight_decay": wd},
        {"params": list(get_params(model, key="10x")), "lr": 10 * lr, "weight_decay": wd},
        {"params": list(get_params(model, key="20x")), "lr": 20 * lr, "weight_decay": 0.0},
    ]


class Float32Pyramid:
    """msc.py's `F` for the float64 run: the input pyramid (F.interpolate with scale_factor) is
    resampled in float32 and widened, everything else is F's. PyTorch computes the sampling positions
    in the input's precision: at scale 0.75 (step 1/0.75) float32 and float64 positions differ by up
    to 1e-5 pixel, which moves this 50-scale input by ~8e-4 and the stem gradient by ~1e-3 relative.
    The float32 positions are the ones the original runs with (and seedmask reproduces), so the
    float64 reference starts from them."""

    def __getattr__(self, name):
        return getattr(F, name)

    @staticmethod
    def interpolate(x, **kw):
        if "scale_factor" in kw and x.dtype == torch.float64:
            return F.interpolate(x.float(), **kw).double()
        return F.interpolate(x, **kw)


def run(model, objective, image, labels, resize_labels, get_params, cfg, steps):
    """`steps` SGD steps (main.py's loop body, ITER_SIZE 1) from the model's weights. Returns per
    step the loss, the outputs, the gradients, and the parameters after the step."""
    opt = torch.optim.SGD(param_groups(model, get_params, LR, WEIGHT_DECAY), momentum=cfg["SOLVER"]["MOMENTUM"])
    criterion = nn.CrossEntropyLoss(ignore_index=cfg["DATASET"]["IGNORE_LABEL"])
    model.train()
    model.base.freeze_bn()
    out = []
    for _ in range(steps):
        opt.zero_grad()
        logits = [model.base(image)] if objective == "base" else model(image)
        losses, targets = [], []
        for logit in logits:
            _, _, h, w = logit.shape
            target = resize_labels(labels, size=(w, h))  # PIL order (width, height)
            targets.append(target)
            losses.append(criterion(logit, target))
        loss = sum(losses)
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        opt.step()
        out.append({
            "loss": loss.detach(), "losses": [l.detach() for l in losses], "logits": [l.detach() for l in logits],
            "targets": targets, "grads": grads,
            "params": {n: p.detach().clone() for n, p in model.named_parameters()},
        })
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deeplab", required=True, help="kazuto1011/deeplab-pytorch clone or source folder")
    ap.add_argument("--out", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "train", "deeplabv2")))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "deeplab-pytorch")
        source = extract_pinned(args.deeplab, REPO, COMMIT, src, FILES)
        source["sha256"] = {p: hashlib.sha256(open(os.path.join(src, p), "rb").read()).hexdigest()
                            for p in ["libs/models/resnet.py", "libs/models/deeplabv2.py", "libs/models/msc.py", "main.py", "libs/utils/lr_scheduler.py", "configs/voc12.yaml"]}
        sys.path.insert(0, src)
        cfg = yaml.safe_load(open(os.path.join(src, "configs/voc12.yaml")))
        fns = {**original_functions(os.path.join(src, "main.py"), ["get_params"]), **original_functions(os.path.join(src, "main.py"), ["resize_labels"])}
        spec = importlib.util.spec_from_file_location("lr_scheduler", os.path.join(src, "libs/utils/lr_scheduler.py"))
        lr_scheduler = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(lr_scheduler)
        rates = list(cfg["MODEL"]["ATROUS_RATES"])

        gen = torch.Generator().manual_seed(SEED)
        model32, resnet = build(rates)
        h, w = SIZE
        image = make_image(1, gen)
        calib = torch.cat([image, make_image(2, gen)])
        randomise(model32, resnet, calib, gen)
        labels = make_labels(gen)

        os.makedirs(args.out, exist_ok=True)
        init = {k: v.clone() for k, v in model32.state_dict().items()}
        torch.save(init, os.path.join(args.out, "init.pth"))
        torch.save(coco_style_init(init, rates), os.path.join(args.out, "init-deeplabv1.pth"))

        def fresh(dtype):
            m, _ = build(rates)
            m.load_state_dict(init)
            return m.to(dtype)

        groups = param_groups(model32, fns["get_params"], LR, WEIGHT_DECAY)
        names = {id(p): n for n, p in model32.named_parameters()}
        group_info = [
            {"lr_mult": g["lr"] / LR, "weight_decay": g["weight_decay"] > 0, "params": [names[id(p)] for p in g["params"]]}
            for g in groups
        ]
        in_groups = {n for g in group_info for n in g["params"]}
        not_optimised = [n for n, _ in model32.named_parameters() if n not in in_groups]

        # The schedule the original runs (PolynomialLR with LR_DECAY = 10: a staircase), over 30 iterations.
        sched_opt = torch.optim.SGD(param_groups(model32, fns["get_params"], cfg["SOLVER"]["LR"], cfg["SOLVER"]["WEIGHT_DECAY"]), momentum=0.9)
        sched = lr_scheduler.PolynomialLR(sched_opt, step_size=cfg["SOLVER"]["LR_DECAY"], iter_max=30, power=cfg["SOLVER"]["POLY_POWER"])
        schedule = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for it in range(1, 31):
                schedule.append(sched_opt.param_groups[0]["lr"])
                sched.step(epoch=it)

        arrays = Arrays()
        arrays.add("image", image)
        arrays.add("labels", labels, "u8")
        torch32 = {}
        cases = {}
        msc = importlib.import_module("libs.models.msc")
        msc.F = Float32Pyramid()
        for objective in ["base", "msc"]:
            r64 = run(fresh(torch.float64), objective, image.double(), labels, fns["resize_labels"], fns["get_params"], cfg, 2)
            r32 = run(fresh(torch.float32), objective, image, labels, fns["resize_labels"], fns["get_params"], cfg, 2)
            case = {"outputs": [], "losses": [], "step_losses": []}

            def ref(key, a64, a32):
                arrays.add(key, a64)
                torch32[key] = float((a64 - a32.double()).abs().max())

            for i, (l64, l32) in enumerate(zip(r64[0]["logits"], r32[0]["logits"])):
                key = f"{objective}.logits{i}"
                ref(key, l64, l32)
                arrays.add(f"{objective}.labels{i}", r64[0]["targets"][i], "u8")
                case["outputs"].append(list(l64.shape))
                case["losses"].append(float(r64[0]["losses"][i]))
            if objective == "msc":
                # Smallest top-2 gap of the pixel-wise max: the argmax (hence the gradient's route)
                # is stable against float32 differences far below it.
                l0, *pyr = r64[0]["logits"][:-1]
                up = [F.interpolate(l, size=l0.shape[2:], mode="bilinear", align_corners=False) for l in pyr]
                top2 = torch.stack([l0, *up]).sort(0, descending=True).values
                case["max_top2_margin"] = float((top2[0] - top2[1]).min())
            for s in range(2):
                case["step_losses"].append(float(r64[s]["loss"]))
                torch32[f"{objective}.loss{s}"] = float(abs(r64[s]["loss"] - r32[s]["loss"].double()))
            for n in RECORDED:
                ref(f"{objective}.grad.{n}", r64[0]["grads"][n], r32[0]["grads"][n])
                p0 = init[n].double()
                ref(f"{objective}.update1.{n}", r64[0]["params"][n] - p0, r32[0]["params"][n].double() - p0)
                ref(f"{objective}.update2.{n}", r64[1]["params"][n] - r64[0]["params"][n], r32[1]["params"][n].double() - r32[0]["params"][n].double())
            # BN parameters get gradients but no group holds them: unchanged after the steps.
            bn = "base.layer1.conv1.bn.weight"
            assert r64[0]["grads"].get(bn) is not None and torch.equal(r64[1]["params"][bn], init[bn].double())
            cases[objective] = case

    blob = arrays.blob()
    header = {
        "generator": "weights/make_deeplabv2_train_golden.py",
        "source": source,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "settings": {
            "width_divisor": WIDTH, "n_blocks": N_BLOCKS, "classes": CLASSES, "rates": rates, "msc_scales": [0.5, 0.75],
            "size": list(SIZE), "lr": LR, "momentum": cfg["SOLVER"]["MOMENTUM"], "weight_decay": WEIGHT_DECAY,
            "ignore_label": cfg["DATASET"]["IGNORE_LABEL"], "steps": 2,
        },
        "voc12_solver": cfg["SOLVER"],
        "param_groups": group_info,
        "not_optimised": not_optimised,
        "poly_schedule": {"base_lr": cfg["SOLVER"]["LR"], "step_size": cfg["SOLVER"]["LR_DECAY"], "iter_max": 30,
                          "power": cfg["SOLVER"]["POLY_POWER"], "lr_1x_by_iteration": schedule},
        "recorded": RECORDED,
        "cases": cases,
        "bin_bytes": len(blob),
        "bin_sha256": hashlib.sha256(blob).hexdigest(),
        "arrays": arrays.index,
        "torch32_err": torch32,
    }
    with open(os.path.join(args.out, "golden.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(args.out, "golden.json"), "w") as f:
        json.dump(header, f, indent=1)
        f.write("\n")
    sizes = ", ".join(f"{n} {os.path.getsize(os.path.join(args.out, n))} bytes" for n in ["init.pth", "init-deeplabv1.pth"])
    print(f"wrote {args.out}: golden.bin {len(blob)} bytes, {sizes}")
    for k, c in cases.items():
        print(k, "losses", c["losses"], "step losses", c["step_losses"])


if __name__ == "__main__":
    main()
