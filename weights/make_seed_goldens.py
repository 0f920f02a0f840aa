#!/usr/bin/env python3
"""Golden outputs of CLIP-ES's CAA stage chained on PyTorch's Grad-CAM, for the end-to-end test of
seedmask's seed pipeline (test/wsss/seeds.test.ts).

    /usr/bin/python3 weights/make_seed_goldens.py     # writes test/fixtures/seeds/tiny-caa.json

Input: the Grad-CAM goldens of weights/make_gradcam_goldens.py (test/fixtures/gradcam/tiny.{json,bin}:
torch autograd CAMs [K, gh, gw] and the mean attention W [n, n] of the tiny fixture CLIP). For each
case, weights/clip_es_caa.py (numpy float32 + real cv2, CLIP-ES's operation order, S^2 formed as
CLIP-ES does) computes: the refined grid CAMs (box threshold 0.4, scoremap2bbox with its edge quirk),
`attn_highres` (cv2 INTER_LINEAR to the case's source size, float16), and eval_cam.py's label maps at
tau = 1 and 2 (keys 0..K-1). The test feeds the same image and text rows through seedmask's GPU
Grad-CAM and CAA, so a wrong step anywhere in the chain shows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys

import numpy as np

sys.dont_write_bytecode = True
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "weights"))
import clip_es_caa as caa  # noqa: E402

SRC = os.path.join(ROOT, "test", "fixtures", "gradcam", "tiny")
OUT = os.path.join(ROOT, "test", "fixtures", "seeds", "tiny-caa.json")


def b64(a: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def main() -> None:
    with open(SRC + ".json") as f:
        header = json.load(f)
    with open(SRC + ".bin", "rb") as f:
        blob = f.read()
    index = header["index"] if "index" in header else header["arrays"]

    def array(name: str) -> np.ndarray:
        meta = index[name]
        a, b = meta["offset"], meta["offset"] + 4 * int(np.prod(meta["shape"]))
        return np.frombuffer(blob[a:b], dtype="<f4").reshape(meta["shape"])

    cases = []
    for c in header["cases"]:
        gh, gw = c["grid"]
        k = c["classes"]
        cams = array(c["arrays"]["cams"]).reshape(k, gh, gw).astype(np.float32)
        w = array(c["arrays"]["affinity"]).reshape(gh * gw, gh * gw).astype(np.float32)
        refined, masks = caa.caa_refine(w, cams, 0.4)
        size = c["source_size"] if c["source"] == "rgba" else c["input_size"]
        high = caa.highres(refined, tuple(size))
        keys = list(range(k))
        cases.append({
            "name": c["name"], "grid": [gh, gw], "classes": k, "size": size,
            "masks": b64(masks.astype(np.uint8), "u1"),
            "refined": b64(refined, "<f4"),
            "highres": b64(high.astype(np.float32), "<f4"),
            "labels_tau1": b64(caa.label_map(high, keys, 1), "u1"),
            "labels_tau2": b64(caa.label_map(high, keys, 2), "u1"),
        })
    out = {
        "generator": "weights/make_seed_goldens.py",
        "source": "test/fixtures/gradcam/tiny.json",
        "source_bin_sha256": hashlib.sha256(blob).hexdigest(),
        "threshold": 0.4,
        "numpy": np.__version__,
        "cv2": caa.cv2.__version__,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
