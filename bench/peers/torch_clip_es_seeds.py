#!/usr/bin/env python3
"""CPU peer for bench/seeds.bench.ts: the CLIP-ES seed pipeline of the PyTorch reference (PyTorch CPU
float32 + numpy/OpenCV), timed per stage on the same weights, image and labels. Prints one JSON
object on stdout.

    /usr/bin/python3 bench/peers/torch_clip_es_seeds.py --weights W.safetensors --image img.png \
        --prompts prompts.json --cases '7;7,11,17' --warm 1 --threads 2

Stages, as seedmask times them (src/wsss/seeds.ts):
- text: the label set's class and background prompts through the text tower in one batch
  (weights/clip_es_torch.py `encode_text`, the token ids seedmask's tokenizer made, context 77);
- gradcam: preprocessing (Pillow bicubic to multiples of 16, normalisation), then
  `clip_es_torch.grad_cam`: blocks 0..L-2 without autograd ('vision'), the last block with
  autograd, the softmax over K + M rows and one `autograd.grad` per label, as CLIP-ES does ('block');
- caa: weights/clip_es_caa.py, CLIP-ES's numpy/OpenCV arithmetic: Sinkhorn, S·S formed, box masks
  from cv2.findContours, the mat-vec, min-max, cv2.resize to the image, float16, label map;
- crf: not timed. pydensecrf (CLIP-ES's CRF) is not packaged for Debian and cannot be installed
  here; the JSON says so.

The first image of each case is the cold run (the reference has no graphs to compile, so cold and
warm differ only by allocator and thread-pool warm-up); then --warm timed runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "weights"))
sys.path.insert(0, HERE)
import clip_es_caa as caa  # noqa: E402
import clip_es_torch as es  # noqa: E402
from torch_clip import build_clip  # noqa: E402
from torch_clip_vision import config_from_state_dict, load_openai_state_dict  # noqa: E402

CAA_LAYERS = 8


def run_case(model, img, text_rows: torch.Tensor, keys, background: int, threshold: float, tau: float) -> dict:
    """One image through Grad-CAM and CAA; returns seconds per stage."""
    t0 = time.perf_counter()
    image = es.preprocess_clip_es(img)
    t_pre = time.perf_counter() - t0
    K = len(keys)
    rows = torch.cat([text_rows[list(keys)], text_rows[-background:]], dim=0)
    extras: dict = {}
    cams, _probs, maps = es.grad_cam(model, image, rows, list(range(K)), extras=extras)
    t_gradcam = time.perf_counter() - t0

    t1 = time.perf_counter()
    w = maps[-CAA_LAYERS:].mean(dim=0)[1:, 1:].numpy()
    refined, _masks = caa.caa_refine(w, cams.numpy().astype(np.float32), threshold)
    high = caa.highres(refined, (img.size[1], img.size[0]))
    labels = caa.label_map(high, keys, tau)
    t_caa = time.perf_counter() - t1
    assert labels.shape == (img.size[1], img.size[0])
    return {
        "gradcam": t_gradcam * 1e3, "gradcam.preprocess": t_pre * 1e3,
        "gradcam.vision": extras["seconds"]["vision"] * 1e3, "gradcam.block": extras["seconds"]["block"] * 1e3,
        "caa": t_caa * 1e3, "total": (t_gradcam + t_caa) * 1e3,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--image", required=True, help="RGB image file (PNG/JPEG)")
    ap.add_argument("--prompts", required=True,
                    help="JSON {ids: [[int]*77]*N, classes: C, background: M}: the class prompts' ids, then the background prompts'")
    ap.add_argument("--cases", required=True, help="';'-separated cases of ','-separated class indices")
    ap.add_argument("--warm", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.4, help="CAA box threshold λ")
    ap.add_argument("--tau", type=float, default=2.0, help="label-map exponent τ")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from PIL import Image

    t0 = time.perf_counter()
    sd = load_openai_state_dict(args.weights)
    model = build_clip(config_from_state_dict(sd))
    model.load_state_dict(sd, strict=True)
    model.float().eval()
    load_ms = (time.perf_counter() - t0) * 1e3
    img = Image.open(args.image).convert("RGB")
    with open(args.prompts) as f:
        prompts = json.load(f)
    ids = torch.tensor(prompts["ids"], dtype=torch.long)
    background = int(prompts["background"])

    text_ms = []
    for _ in range(1 + args.warm):
        t = time.perf_counter()
        with torch.no_grad():
            text_rows = es.normalized(es.encode_text(model, ids))
        text_ms.append((time.perf_counter() - t) * 1e3)

    cases = []
    for spec in args.cases.split(";"):
        keys = [int(k) for k in spec.split(",") if k]
        runs = [run_case(model, img, text_rows, keys, background, args.threshold, args.tau) for _ in range(1 + args.warm)]
        cases.append({"labels": keys, "cold": runs[0], "warm": runs[1:]})
    print(json.dumps({
        "name": f"PyTorch {torch.__version__} CPU ×{torch.get_num_threads()} float32 + numpy/OpenCV {caa.cv2.__version__} "
                "(weights/clip_es_torch.py, weights/clip_es_caa.py)",
        "torch": torch.__version__, "threads": torch.get_num_threads(), "load_ms": load_ms,
        "text": {"prompts": int(ids.shape[0]), "context": int(ids.shape[1]), "cold_ms": text_ms[0], "warm_ms": text_ms[1:]},
        "cases": cases,
        "crf": None, "crf_why": "pydensecrf (CLIP-ES's dense CRF) is not packaged for Debian and cannot be installed here",
    }))


if __name__ == "__main__":
    main()
