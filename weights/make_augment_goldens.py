#!/usr/bin/env python3
"""Goldens for seedmask's GPU training augmentation (src/kernels/train/augment.ts,
test/train/augment.test.ts), made by running the original: kazuto1011/deeplab-pytorch at a pinned
commit, libs/datasets/base.py `_BaseDataset.__getitem__` (which calls `_augmentation`, then subtracts
the mean and transposes to CHW). Nothing of it is copied: the file is unpacked from the pinned commit
with `git archive` and imported.

Usage (from the repository root; Debian's python3-opencv, python3-pil, python3-torch):

    git clone https://github.com/kazuto1011/deeplab-pytorch /tmp/src/deeplab-pytorch
    /usr/bin/python3 weights/make_augment_goldens.py --deeplab /tmp/src/deeplab-pytorch

writes test/fixtures/train/augment/augment.{json,bin}. The inputs are seeded, so the files
regenerate byte-identical with the same library versions (`bin_sha256` in the header).

What is fixed, and how: the original draws random.choice(scales), random.randint(0, H - crop),
random.randint(0, W - crop) and random.random() < 0.5 (flip) from the `random` module. The script
replaces base.py's module-level `random` with an object that returns the case's scale, offsets and
flip, and records the arguments of each call (the scale list, the randint upper bounds: the padded
size minus the crop). base.py's `cv2` is wrapped only to record the size passed to cv2.resize.
Everything else runs as written: cv2.resize(INTER_LINEAR) on the float32 BGR image,
PIL Image.resize(NEAREST) on the int32 label map, cv2.copyMakeBorder with mean_bgr and 255,
slicing, np.fliplr, `image -= mean_bgr`, transpose, astype.

Cases (sizes chosen awkward; crops both smaller and larger than the scaled image on each axis):
  source 1x1 (crops 1, 2), 7x13 (crops 6, 11), 37x5 (crops 9, 4), 12x18 (crops 8, 14; the even size
  makes scale 0.5 an exact halving, where cv2 switches INTER_LINEAR to its INTER_AREA fast path);
  every scale of configs/voc12.yaml, flip off and on, crop offsets cycling through the largest, 0,
  the middle and a seeded draw. Where int(side * scale) is 0 the original fails in cv2.resize; the
  case records the error instead of outputs (seedmask clamps the side to 1 there).
Also two 1-D tables over many sizes, outside the original but of the libraries it calls:
  nearest  for in = 1..40 and out = int(in * s) for each scale: the source index of every output
           index under PIL Image.resize(NEAREST) (what the original uses for labels) and under
           cv2.resize(INTER_NEAREST) (seedmask's 'cv2' label rule), read off by resizing a row of
           the indices themselves.
  linear   cv2.resize(INTER_LINEAR) of float32 rows with random non-integer values (in = 1 .. 375,
           out = int(in * s), 1 and 2 in + 1), for checking the resampler's 'cv2' taps bit for bit
           on the float32 path.
Files: augment.json (header: generator, versions, provenance, cases with parameters and the index
of their arrays) and augment.bin (arrays little-endian, each at a multiple of 8 bytes): per source
`rgb` u8 [H, W, 3] and `labels` u8 [H, W]; per case `image` f32 [3, crop, crop] (BGR, mean
subtracted) and `labels` u8 [crop, crop]; 1-D tables u16 and f32.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_blob import Blob  # noqa: E402
import PIL
import torch
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "fixtures"))
from originals import extract_pinned  # noqa: E402

REPOSITORY = "kazuto1011/deeplab-pytorch"
COMMIT = "4219467fa5de07985f834f1bd8c04c186dc8f6d8"
OUT = os.path.join(ROOT, "test", "fixtures", "train", "augment")
SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)  # configs/voc12.yaml DATASET.SCALES
MEAN_BGR = (104.008, 116.669, 122.675)  # configs/voc12.yaml IMAGE.MEAN, in B, G, R order
IGNORE = 255
SOURCES = [((1, 1), (1, 2)), ((7, 13), (6, 11)), ((37, 5), (9, 4)), ((12, 18), (8, 14))]


class FixedRandom:
    """Stands in for base.py's `random` module: returns the case's draws, records the calls."""

    def __init__(self, scale: float, offset: tuple[int, int], flip: bool) -> None:
        self.scale, self.offsets, self.flip = scale, list(offset), flip
        self.calls: list[list] = []

    def choice(self, seq):
        self.calls.append(["choice", list(seq)])
        assert self.scale in seq
        return self.scale

    def randint(self, a: int, b: int) -> int:
        self.calls.append(["randint", a, b])
        v = self.offsets.pop(0)
        assert a <= v <= b, (a, v, b)
        return v

    def random(self) -> float:
        self.calls.append(["random"])
        return 0.25 if self.flip else 0.75  # the original flips when random() < 0.5


class Cv2Recorder:
    """base.py's `cv2`, forwarding everything, recording cv2.resize's dsize."""

    def __init__(self) -> None:
        self.resized: list[list[int]] = []

    def __getattr__(self, name):
        return getattr(cv2, name)

    def resize(self, image, dsize, *args, **kwargs):
        self.resized.append([int(dsize[1]), int(dsize[0])])  # as [h, w]
        return cv2.resize(image, dsize, *args, **kwargs)


def load_base(tree: str):
    spec = importlib.util.spec_from_file_location("deeplab_pytorch_base", os.path.join(tree, "libs", "datasets", "base.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_arrays(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 [h, w, 3] noise and labels uint8 [h, w]: per-pixel random classes 0..20 and ~10 %
    255, so that any wrong nearest index shows."""
    r = np.random.default_rng(seed)
    rgb = r.integers(0, 256, (h, w, 3), dtype=np.uint8)
    labels = r.integers(0, 21, (h, w)).astype(np.uint8)
    labels[r.random((h, w)) < 0.1] = IGNORE
    return rgb, labels


def run_original(base, rgb: np.ndarray, labels: np.ndarray, crop: int, scale: float, offset, flip: bool) -> dict:
    class Dataset(base._BaseDataset):
        def _set_files(self):
            self.files = ["case"]

        def _load_data(self, index):
            # What VOC._load_data returns: cv2.imread's BGR as float32, the PNG's labels as int32.
            return "case", rgb[:, :, ::-1].astype(np.float32), labels.astype(np.int32)

    fixed, rec = FixedRandom(scale, offset, flip), Cv2Recorder()
    base.random, base.cv2 = fixed, rec
    ds = Dataset(root="", split="train", ignore_label=IGNORE, mean_bgr=MEAN_BGR, augment=True,
                 base_size=None, crop_size=crop, scales=SCALES, flip=True)
    try:
        _, image, label = ds[0]
    except cv2.error as e:
        return {"error": str(e).strip().splitlines()[-1], "calls": fixed.calls}
    assert image.dtype == np.float32 and image.shape == (3, crop, crop), image.shape
    assert label.shape == (crop, crop) and label.min() >= 0 and label.max() <= 255
    return {"image": image, "labels": label.astype(np.uint8), "calls": fixed.calls, "resized": rec.resized[0]}


def dumps(header: dict) -> str:
    """The header with one line per top-level scalar and per record of a list: diffable, compact."""
    lines = []
    for key, value in header.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            rows = ",\n".join("  " + json.dumps(v, separators=(",", ":")) for v in value)
            lines.append(f"{json.dumps(key)}: [\n{rows}\n ]")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}")
    return "{\n " + ",\n ".join(lines) + "\n}\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deeplab", required=True, help="clone (or bare mirror) of kazuto1011/deeplab-pytorch")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)

    work = tempfile.mkdtemp(prefix="augment-golden-")
    try:
        tree = os.path.join(work, "deeplab-pytorch")
        source = extract_pinned(args.deeplab, REPOSITORY, COMMIT, tree, ["libs/datasets/base.py"])
        source["sha256"] = {"libs/datasets/base.py": hashlib.sha256(open(os.path.join(tree, "libs/datasets/base.py"), "rb").read()).hexdigest()}
        base = load_base(tree)

        blob = Blob()
        sources, cases = [], []
        picks = np.random.default_rng(7)
        k = 0
        for si, ((h, w), crops) in enumerate(SOURCES):
            rgb, labels = source_arrays(h, w, 100 + si)
            sources.append({"size": [h, w], "arrays": {"rgb": blob.add(rgb), "labels": blob.add(labels)}})
            for crop in crops:
                for scale in SCALES:
                    rh, rw = max(int(h * scale), 1), max(int(w * scale), 1)
                    my, mx = max(rh, crop) - crop, max(rw, crop) - crop
                    for flip in (False, True):
                        pattern = k % 4
                        k += 1
                        oy = [my, 0, my // 2, int(picks.integers(0, my + 1))][pattern]
                        ox = [mx, 0, (mx + 1) // 2, int(picks.integers(0, mx + 1))][(pattern + 1) % 4]
                        got = run_original(base, rgb, labels, crop, scale, (oy, ox), flip)
                        case = {"source": si, "crop": crop, "scale": scale, "offset": [oy, ox], "flip": flip, "calls": got["calls"]}
                        if "error" in got:
                            case["original_error"] = got["error"]
                        else:
                            case["resized"] = got["resized"]
                            case["arrays"] = {"image": blob.add(got["image"]), "labels": blob.add(got["labels"])}
                        cases.append(case)

        nearest = []
        for n_in in range(1, 41):
            for n_out in sorted({max(int(n_in * s), 1) for s in SCALES}):
                row = np.arange(n_in, dtype=np.int32)[None, :]
                pil = np.asarray(Image.fromarray(row).resize((n_out, 1), resample=Image.NEAREST)).astype(np.uint16)[0]
                cv = cv2.resize(row, (n_out, 1), interpolation=cv2.INTER_NEAREST).astype(np.uint16)[0]
                nearest.append({"in": n_in, "out": n_out, "pil": blob.add(pil), "cv2": blob.add(cv)})

        linear = []
        r = np.random.default_rng(11)
        for n_in in (1, 2, 3, 5, 7, 13, 37, 64, 375):
            x = r.random((1, n_in), dtype=np.float32) * np.float32(255)
            outs = {max(int(n_in * s), 1) for s in SCALES} | {1}
            if n_in < 100:
                outs.add(2 * n_in + 1)
            for n_out in sorted(outs):
                y = cv2.resize(x, (n_out, 1), interpolation=cv2.INTER_LINEAR)
                linear.append({"in": n_in, "out": n_out, "x": blob.add(x[0]), "y": blob.add(y[0])})

        data = blob.bytes()
        header = {
            "generator": "weights/make_augment_goldens.py",
            "versions": {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__, "pillow": PIL.__version__, "torch": torch.__version__},
            "source": source,
            "scales": list(SCALES),
            "mean_bgr": list(MEAN_BGR),
            "ignore_label": IGNORE,
            "bin_bytes": len(data),
            "bin_sha256": hashlib.sha256(data).hexdigest(),
            "sources": sources,
            "cases": cases,
            "nearest": nearest,
            "linear": linear,
        }
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "augment.bin"), "wb") as f:
            f.write(data)
        with open(os.path.join(args.out, "augment.json"), "w") as f:
            f.write(dumps(header))
        print(f"{len(cases)} cases ({sum('original_error' in c for c in cases)} where the original fails), "
              f"{len(nearest)} nearest and {len(linear)} linear rows, {len(data)} bytes")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
