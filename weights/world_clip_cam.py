"""CAM sanity check for the world CLIP in PyTorch: CLIP-ES's Softmax-GradCAM (docs/algorithms.md §3.4) and a
simplified CAA refinement (§3.5) on the held-out world, scored against the ground truth with CLIP-ES's
CAM evaluation (§3.6-3.7: background = (1 - max CAM)^τ, argmax, mIoU over background + classes).

    /usr/bin/python3 weights/world_clip_cam.py [--weights weights/world-clip] [--split val] [--png /tmp/world-clip-cams.png]

It does not reproduce CLIP-ES bit for bit (that is the WebGPU pipeline's job, with its own golden tests):
CAMs are upsampled with torch's bilinear resize, boxes for CAA come from plain connected components,
and the attention layers for CAA are the last min(8, layers). It answers one question before the GPU
pipeline exists: are the model's patch tokens spatially meaningful? A centred-blob CAM is printed as
the baseline that a spatially blind model would roughly match.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

import clip_es_torch as ces  # noqa: E402
from train_world_clip import class_prompts, ensure_world, load_model, read_labelset, read_records  # noqa: E402


def confusion(pred: np.ndarray, gt: np.ndarray, n: int) -> np.ndarray:
    keep = gt < n
    return np.bincount(n * gt[keep].astype(np.int64) + pred[keep], minlength=n * n).reshape(n, n)


def miou(hist: np.ndarray) -> float:
    iou = np.diag(hist) / (hist.sum(0) + hist.sum(1) - np.diag(hist) + 1e-12)
    valid = hist.sum(1) > 0
    return float(iou[valid].mean())


def label_map(cams: np.ndarray, class_ids: list, tau: float) -> np.ndarray:
    """cams [K, H, W] in [0, 1] -> label values (0 = background, else class id)."""
    bg = (1 - cams.max(axis=0)) ** tau
    idx = np.concatenate([bg[None], cams]).argmax(axis=0)
    lut = np.array([0] + list(class_ids), dtype=np.uint8)
    return lut[idx]


def upsample(cams: torch.Tensor, h: int, w: int) -> np.ndarray:
    return F.interpolate(cams[None], size=(h, w), mode="bilinear", align_corners=False)[0].clamp(0, 1).numpy()


def run_cam(weights: str, world: str, split: str, png: str | None = None, verbose: bool = True) -> dict:
    """Grad-CAM and CAA mIoU of the weights in `weights` on one split of the world; optional PNG."""
    model, tok = load_model(weights)
    ls = read_labelset(world)
    names = [c["name"] for c in ls["classes"]]
    k_all = len(names)
    with torch.no_grad():
        text = ces.encode_text(model, tok.tokenize(class_prompts(ls), model.config.context_length))
    fg, bg = text[:k_all], text[k_all:]
    records = read_records(world, split)
    n = k_all + 1
    hists = {name: np.zeros((n, n), np.int64) for name in ("gradcam tau=1", "gradcam tau=2", "caa tau=1", "caa tau=2", "centre blob tau=1")}
    tiles = []
    t0 = time.time()
    for r in records:
        pil = Image.open(os.path.join(world, "JPEGImages", r["id"] + ".jpg")).convert("RGB")
        gt = np.asarray(Image.open(os.path.join(world, "SegmentationClass", r["id"] + ".png")))
        h, w = gt.shape
        img = ces.preprocess_clip_es(pil)
        label_ids = [names.index(x) for x in r["labels"]]
        rows = torch.cat([fg[label_ids], bg])
        cams, probs, maps = ces.grad_cam(model, img, rows, list(range(len(label_ids))))
        refined = ces.caa_refine(cams, maps)
        class_values = [i + 1 for i in label_ids]
        up, up_ref = upsample(cams, h, w), upsample(refined, h, w)
        for tau in (1, 2):
            hists[f"gradcam tau={tau}"] += confusion(label_map(up, class_values, tau), gt, n)
            hists[f"caa tau={tau}"] += confusion(label_map(up_ref, class_values, tau), gt, n)
        yy, xx = np.mgrid[0:h, 0:w]
        blob = np.exp(-(((yy - h / 2) / (0.3 * h)) ** 2 + ((xx - w / 2) / (0.3 * w)) ** 2))
        hists["centre blob tau=1"] += confusion(label_map(np.repeat(blob[None], len(label_ids), 0), class_values, 1), gt, n)
        if len(tiles) < 8:
            tiles.append((pil, gt, up, up_ref, r["labels"]))
    seconds = time.time() - t0
    result = {name: round(miou(hh), 4) for name, hh in hists.items()}
    per_class = {}
    for name in ("gradcam tau=2", "caa tau=2"):
        hh = hists[name]
        iou = np.diag(hh) / (hh.sum(0) + hh.sum(1) - np.diag(hh) + 1e-12)
        per_class[name] = {lbl: round(float(v), 3) for lbl, v in zip(["background"] + names, iou)}
    if verbose:
        print(f"CAM sanity, {len(records)} {split} images, {seconds:.0f} s")
        for name, v in result.items():
            print(f"  mIoU {name:18s} {100 * v:5.1f} %")
        for name, d in per_class.items():
            print(f"  IoU per class ({name}): " + ", ".join(f"{k} {100 * v:.0f}" for k, v in d.items()))
    if png:
        save_grid(png, tiles)
        if verbose:
            print(f"  wrote {png}")
    return {"split": split, "images": len(records), "seconds": round(seconds, 1), "mIoU": result, "IoU_per_class": per_class}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=os.path.join(HERE, "world-clip"))
    ap.add_argument("--world", default="/tmp/seedmask-world-clip/eval-s1", help="the seed-1 world (made if missing)")
    ap.add_argument("--split", default="val")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--png", default="/tmp/world-clip-cams.png")
    ap.add_argument("--json", default=None, help="write the numbers here too")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ensure_world(args.world, 1, 200, 60)
    result = run_cam(args.weights, args.world, args.split, args.png)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


def save_grid(path: str, tiles) -> None:
    """Per image, one row: the image, the ground truth's foreground, then per label its Grad-CAM, then per
    label its CAA-refined CAM (heat maps: dark blue 0 -> red 1), each titled with the label."""
    from PIL import ImageDraw

    th = 128
    rows = []
    for pil, gt, cams, refined, labels in tiles:
        scale = th / pil.height
        size = (max(1, round(pil.width * scale)), th)
        cells = [pil.resize(size), Image.fromarray(((gt > 0) & (gt < 255)).astype(np.uint8) * 255).resize(size)]
        for tag, cam_set in (("cam", cams), ("caa", refined)):
            for label, c in zip(labels, cam_set):
                heat = np.asarray(Image.fromarray((c * 255).astype(np.uint8)).resize(size), dtype=np.float32) / 255
                rgb = np.stack([255 * heat, 60 * (1 - np.abs(2 * heat - 1)), 140 * (1 - heat)], -1)
                cell = Image.fromarray(rgb.clip(0, 255).astype(np.uint8))
                ImageDraw.Draw(cell).text((3, 2), f"{tag} {label}", fill="white")
                cells.append(cell)
        rows.append(cells)
    width = max(sum(c.width + 4 for c in row) for row in rows)
    canvas = Image.new("RGB", (width, len(rows) * (th + 4)), "white")
    for i, row in enumerate(rows):
        x = 0
        for c in row:
            canvas.paste(c.convert("RGB"), (x, i * (th + 4)))
            x += c.width + 4
    canvas.save(path)


if __name__ == "__main__":
    main()
