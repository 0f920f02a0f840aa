#!/usr/bin/env python3
"""The world training run of bench/world-train.ts, in PyTorch on the CPU: how far the segmenter gets.

Usage (after `npx tsx bench/world-train.ts`, which leaves the world and its seeds in --work):

    /usr/bin/python3 bench/peers/world_train_torch.py [--work /tmp/seedmask-world-train] [--steps 6000]

`seedmask train` runs this recipe on the GPU; on a 2-core CPU's SwiftShader a step takes seconds, so
a long run is out of reach there. PyTorch runs the same recipe about fifty times faster, which
shows where longer training would lead. The recipe is bench/world-train.ts's
(WORLD_TRAIN_ARGS): the segmenter of src/train/segmenter.ts (widths 16, 32, 64; the torch module of
weights/make_train_equivalence.py), images with the longer side set to 96, a random scale from
(0.5, 0.75, 1, 1.25, 1.5), padding with the mean and 255, 64x64 crops, flips, ImageNet
normalisation, batches of 8 in a new permutation every epoch, SGD 0.05 with momentum 0.9, weight
decay 5e-4 on convolution weights, poly 0.9; seedmask's initialisation scheme (Kaiming normal, fan
out; the classifier normal 0.01). It is the same recipe, not the same run: other random draws and
OpenCV's resize instead of seedmask's GPU augmentation.

It trains twice, on the train split's seed masks and on its ground truth, and validates on the val
split's ground truth at the longer side 96 (logits resized to the image, argmax; mIoU over present
classes as seedmask's evaluate), also with the argmax restricted to background and the image's own
classes (what the seeds are given). Writes bench/results/world-train-torch-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "weights"))
from make_train_equivalence import Segmenter  # noqa: E402
from world_clip_cam import confusion, miou  # noqa: E402

CLASSES = 11
IGNORE = 255
MEAN = np.array([0.485, 0.456, 0.406]) * 255
STD = np.array([0.229, 0.224, 0.225]) * 255
SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)


def split_ids(world: str, split: str) -> list[str]:
    with open(os.path.join(world, "ImageSets", "Segmentation", f"{split}.txt")) as f:
        return [line.strip() for line in f if line.strip()]


def image_path(world: str, i: str) -> str:
    for ext in (".jpg", ".png"):
        p = os.path.join(world, "JPEGImages", i + ext)
        if os.path.exists(p):
            return p
    raise SystemExit(f"{world}: no image for id {i}")


def base_fit(h: int, w: int, base: int) -> tuple[int, int]:
    return (base, max(1, int(base * w / h))) if h > w else (max(1, int(base * h / w)), base)


def load(world: str, i: str, label_path: str) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(Image.open(image_path(world, i)).convert("RGB"), np.float32)
    labels = np.asarray(Image.open(label_path), np.uint8)
    if labels.shape != image.shape[:2]:
        raise SystemExit(f"{label_path}: {labels.shape} labels for a {image.shape[:2]} image")
    return image, labels


def resize(image: np.ndarray, labels: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return (cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR),
            np.asarray(Image.fromarray(labels).resize((w, h), Image.NEAREST)))


def sample(rng: np.random.Generator, image: np.ndarray, labels: np.ndarray, base: int, crop: int) -> tuple[np.ndarray, np.ndarray]:
    bh, bw = base_fit(*labels.shape, base)
    s = SCALES[rng.integers(len(SCALES))]
    im, lb = resize(image, labels, max(1, int(bh * s)), max(1, int(bw * s)))
    ph, pw = max(crop - im.shape[0], 0), max(crop - im.shape[1], 0)
    if ph or pw:
        im = cv2.copyMakeBorder(im, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=MEAN.tolist())
        lb = np.pad(lb, ((0, ph), (0, pw)), constant_values=IGNORE)
    y, x = rng.integers(0, im.shape[0] - crop + 1), rng.integers(0, im.shape[1] - crop + 1)
    im, lb = im[y:y + crop, x:x + crop], lb[y:y + crop, x:x + crop]
    if rng.random() < 0.5:
        im, lb = im[:, ::-1], lb[:, ::-1]
    return ((im - MEAN) / STD).transpose(2, 0, 1), lb


def build(widths: list[int]) -> Segmenter:
    net = Segmenter(CLASSES, widths, 3, 1e-5, 0.1)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    nn.init.normal_(net.classifier.weight, 0, 0.01)
    nn.init.zeros_(net.classifier.bias)
    return net


@torch.no_grad()
def evaluate(net: Segmenter, val: list[tuple[np.ndarray, np.ndarray]], base: int) -> dict[str, float]:
    net.eval()
    free, restricted = np.zeros((CLASSES, CLASSES), np.int64), np.zeros((CLASSES, CLASSES), np.int64)
    for image, gt in val:
        h, w = base_fit(*gt.shape, base)
        x = torch.tensor(((cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR) - MEAN) / STD).transpose(2, 0, 1)[None], dtype=torch.float32)
        logits = F.interpolate(net(x), size=gt.shape, mode="bilinear", align_corners=False)[0]
        present = [c for c in np.unique(gt) if c != IGNORE and c != 0]
        allowed = torch.full((CLASSES,), -np.inf)
        allowed[[0, *present]] = 0
        for matrix, scores in ((free, logits), (restricted, logits + allowed[:, None, None])):
            matrix += confusion(scores.argmax(0).numpy(), gt, CLASSES)
    net.train()
    return {"miou": miou(free), "miouImageLabels": miou(restricted)}


def train(source: str, data: list, val: list, a: argparse.Namespace) -> dict:
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    net = build(a.widths).train()
    decay = [p for p in net.parameters() if p.dim() == 4]
    rest = [p for p in net.parameters() if p.dim() != 4]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0.0}], lr=a.lr, momentum=0.9)
    order: list[int] = []
    curve, losses = [], []
    t0 = time.time()
    for it in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = a.lr * (1 - it / a.steps) ** 0.9
        if len(order) < a.batch:
            order += list(rng.permutation(len(data)))
        batch = [sample(rng, *data[order.pop(0)], a.base, a.crop) for _ in range(a.batch)]
        x = torch.tensor(np.stack([b[0] for b in batch]), dtype=torch.float32)
        y = torch.tensor(np.stack([b[1] for b in batch]).astype(np.int64))
        loss = F.cross_entropy(net(x), y, ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if (it + 1) % a.val_every == 0 or it + 1 == a.steps:
            v = evaluate(net, val, a.base)
            curve.append({"iteration": it + 1, **v, "seconds": time.time() - t0})
            print(f"{source}: step {it + 1}: loss {np.mean(losses[-a.val_every:]):.3f}, val mIoU {100 * v['miou']:.2f} % "
                  f"({100 * v['miouImageLabels']:.2f} % with the image's labels), {time.time() - t0:.0f} s", flush=True)
    return {"labels": source, "validation": curve, "lossMeanPer500": [float(np.mean(losses[i:i + 500])) for i in range(0, len(losses), 500)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/seedmask-world-train", help="bench/world-train.ts's folder (world/, seeds-train/, seeds-val/)")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--val-every", type=int, default=1000)
    ap.add_argument("--base", type=int, default=96)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--widths", type=lambda s: [int(v) for v in s.split(",")], default=[16, 32, 64])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    world = os.path.join(a.work, "world")
    seeds = os.path.join(a.work, "seeds-train", "seeds")
    summary_path = os.path.join(a.work, "seeds-val", "summary.json")
    for p in (world, seeds, summary_path):
        if not os.path.exists(p):
            raise SystemExit(f"{p} is missing: run `npx tsx bench/world-train.ts --work {a.work}` first")
    train_ids, val_ids = split_ids(world, "train"), split_ids(world, "val")
    gt = lambda i: os.path.join(world, "SegmentationClass", i + ".png")  # noqa: E731
    val = [load(world, i, gt(i)) for i in val_ids]
    with open(summary_path) as f:
        seeds_val = {k: v["miou"] for k, v in json.load(f)["scores"].items()}
    runs = []
    for source, path in (("seeds", lambda i: os.path.join(seeds, i + ".png")), ("ground truth", gt)):
        data = [load(world, i, path(i)) for i in train_ids]
        runs.append(train(source, data, val, a))
    result = {
        "what": "bench/world-train.ts's recipe in PyTorch (CPU): the segmenter trained on the seed-1 world's 200 train images, "
                "on their seed masks and on their ground truth, validated on the 60 val images' ground truth; "
                "miouImageLabels restricts the argmax to background and the image's own classes, as the seeds are",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "command": f"/usr/bin/python3 bench/peers/world_train_torch.py --steps {a.steps} --val-every {a.val_every}",
        "torch": torch.__version__, "threads": a.threads,
        "settings": {"steps": a.steps, "base": a.base, "crop": a.crop, "batch": a.batch, "lr": a.lr, "widths": a.widths, "seed": a.seed},
        "seedsVal": seeds_val,
        "runs": runs,
    }
    out = a.out or os.path.join(ROOT, "bench", "results", f"world-train-torch-{result['date'][:10]}.json")
    with open(out + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(out + ".tmp", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
