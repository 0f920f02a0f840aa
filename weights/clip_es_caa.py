"""CLIP-ES's CAA refinement (docs/algorithms.md §3.5) and its CAM label map (§3.6), in numpy + OpenCV,
written from the spec as the golden reference for seedmask's GPU pipeline (src/wsss/caa.ts,
src/wsss/labels.ts).

It follows the reference code's arithmetic, not a cleaned-up version of it:
- Sinkhorn, symmetrisation, S² = S·S (formed, as CLIP-ES does), masking of S²'s columns and the
  mat-vec all in float32.
- `scoremap_boxes` runs the real cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE) + boundingRect on
  uint8(cam·255) > int(λ·max), with CLIP-ES's clipping of x1/y1 to gw−1/gh−1.
- `min_max` is scale_cam_image's (x − min)/(1e-7 + max) with numpy's scalar promotion (the
  denominator is formed in float64 and cast to float32 for the division).
- `highres` is cv2.resize(..., (W, H)) (INTER_LINEAR) of each refined grid CAM, stacked and stored as
  float16, i.e. CLIP-ES's `attn_highres`.
- `label_map` is eval_cam.py's: bg = (1 − max)^τ in float16 for τ ≥ 1, a constant float16 plane τ
  for τ < 1, argmax (first maximum wins), lut [0, keys + 1], uint8.
- `crf_probabilities` is eval_cam_with_crf.py's [bg, cams] float16 map with bg = (1 − max)^1.

Run `/usr/bin/python3 weights/clip_es_caa.py` for the self-test against Appendix B, and
`/usr/bin/python3 weights/clip_es_caa.py --fixture test/fixtures/caa/caa.json` to regenerate the
fixture of test/wsss/caa.test.ts and test/wsss/labels.test.ts (random grid CAMs and attention).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np


# ---------------------------------------------------------------------------------------------
# CAA

def sinkhorn(w: np.ndarray, rounds: int = 3) -> np.ndarray:
    """`rounds` × (columns / column sums, then rows / row sums), in w's dtype."""
    t = w
    for _ in range(rounds):
        t = t / t.sum(axis=0, keepdims=True)
        t = t / t.sum(axis=1, keepdims=True)
    return t


def symmetric_square(t: np.ndarray) -> np.ndarray:
    s = (t + t.T) / 2
    return s @ s


def scoremap_boxes(cam: np.ndarray, threshold: float, clip_edges: bool = True) -> List[Tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) boxes of scoremap2bbox with multi_contour_eval=True; [] where CLIP-ES returns
    [[0, 0, 0, 0]] (no contour: an empty mask either way)."""
    gh, gw = cam.shape
    s8 = (cam.astype(np.float32) * 255).astype(np.uint8)
    thr = int(threshold * np.max(s8))
    _, binary = cv2.threshold(s8, thr, 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        x1, y1 = x + w, y + h
        if clip_edges:
            x1, y1 = min(x1, gw - 1), min(y1, gh - 1)
        boxes.append((x, y, x1, y1))
    return boxes


def box_mask(cam: np.ndarray, threshold: float, clip_edges: bool = True) -> np.ndarray:
    mask = np.zeros(cam.shape, np.float32)
    for x0, y0, x1, y1 in scoremap_boxes(cam, threshold, clip_edges):
        mask[y0:y1, x0:x1] = 1
    return mask


def min_max(x: np.ndarray) -> np.ndarray:
    x = x - np.min(x)
    return x / (1e-7 + np.max(x))


def caa_refine(w: np.ndarray, cams: np.ndarray, threshold: float) -> Tuple[np.ndarray, np.ndarray]:
    """w: [n, n] mean attention without the class token; cams: [K, gh, gw] float32 grid CAMs.
    Returns the refined grid CAMs [K, gh, gw] (float32, after one min-max) and the box masks."""
    s2 = symmetric_square(sinkhorn(w.astype(np.float32)))
    refined, masks = [], []
    for cam in cams:
        mask = box_mask(cam, threshold)
        r = (s2 * mask.reshape(1, -1)) @ cam.reshape(-1, 1).astype(np.float32)
        refined.append(min_max(r.reshape(cam.shape).astype(np.float32)))
        masks.append(mask)
    return np.stack(refined).astype(np.float32), np.stack(masks)


def highres(refined: np.ndarray, size_hw: Tuple[int, int]) -> np.ndarray:
    h, w = size_hw
    return np.stack([cv2.resize(r, (w, h)) for r in refined]).astype(np.float16)


# ---------------------------------------------------------------------------------------------
# Label map and CRF probabilities (float16 throughout, as numpy does with the stored float16 CAMs)

def label_map(cams: np.ndarray, keys: Sequence[int], tau: float) -> np.ndarray:
    cams = cams.astype(np.float16)
    if tau < 1:
        cams = np.pad(cams, ((1, 0), (0, 0), (0, 0)), mode='constant', constant_values=tau)
    else:
        bg = np.power(1 - np.max(cams, axis=0, keepdims=True), tau)
        cams = np.concatenate((bg, cams), axis=0)
    lut = np.pad(np.asarray(keys) + 1, (1, 0), mode='constant')
    return lut[np.argmax(cams, axis=0)].astype(np.uint8)


def crf_probabilities(cams: np.ndarray) -> np.ndarray:
    cams = cams.astype(np.float16)
    bg = np.power(1 - np.max(cams, axis=0, keepdims=True), 1)
    return np.concatenate((bg, cams), axis=0)


# ---------------------------------------------------------------------------------------------
# Appendix B self-test

APPENDIX_W = np.array([[0.50, 0.20, 0.10, 0.10],
                       [0.10, 0.60, 0.10, 0.10],
                       [0.05, 0.05, 0.70, 0.10],
                       [0.20, 0.10, 0.10, 0.50]])
APPENDIX_T = [[0.583103, 0.200937, 0.090952, 0.125008], [0.124675, 0.644448, 0.097234, 0.133642],
              [0.067007, 0.057726, 0.731615, 0.143652], [0.222197, 0.095712, 0.086645, 0.595446]]
APPENDIX_S2 = [[0.402890, 0.225881, 0.136440, 0.232364], [0.225881, 0.460974, 0.132681, 0.179373],
               [0.136440, 0.132681, 0.560760, 0.175405], [0.232364, 0.179373, 0.175405, 0.411103]]
APPENDIX_BOX_CAM = np.array([[0.0, 0.1, 0.0, 0.0, 0.0],
                             [0.0, 0.9999999, 0.5, 0.0, 0.0],
                             [0.3, 0.0, 0.41, 0.0, 0.6],
                             [0.0, 0.0, 0.0, 0.0, 0.45]], np.float32)


def self_test() -> None:
    t = sinkhorn(APPENDIX_W)
    assert np.abs(t - APPENDIX_T).max() < 6e-7, t
    s2 = symmetric_square(t)
    assert np.abs(s2 - APPENDIX_S2).max() < 6e-7, s2
    cam = np.array([1.0, 0.6, 0.0, 0.2])
    mask = np.array([1.0, 1.0, 0.0, 1.0])
    refined = (s2 * mask[None, :]) @ cam
    assert np.abs(refined - [0.584892, 0.538340, 0.251129, 0.422208]).max() < 6e-7, refined
    scaled = min_max(refined)
    assert np.abs(scaled - [0.9999997, 0.860523, 0.0, 0.512576]).max() < 6e-7, scaled
    # Row-first normalisation gives the documented wrong answer.
    wrong = APPENDIX_W.copy()
    for _ in range(3):
        wrong = wrong / wrong.sum(axis=1, keepdims=True)
        wrong = wrong / wrong.sum(axis=0, keepdims=True)
    assert np.abs(symmetric_square(wrong) @ (mask * cam) - [0.589280, 0.540101, 0.249795, 0.425539]).max() < 6e-7
    # float32 path within ~1e-7 of float64.
    s2_32 = symmetric_square(sinkhorn(APPENDIX_W.astype(np.float32)))
    assert np.abs(s2_32 - s2).max() < 1e-6

    s8 = (APPENDIX_BOX_CAM * 255).astype(np.uint8)
    assert s8.tolist() == [[0, 25, 0, 0, 0], [0, 254, 127, 0, 0], [76, 0, 104, 0, 153], [0, 0, 0, 0, 114]], s8
    assert sorted(scoremap_boxes(APPENDIX_BOX_CAM, 0.4)) == [(1, 1, 3, 3), (4, 2, 4, 3)], scoremap_boxes(APPENDIX_BOX_CAM, 0.4)
    want = np.zeros((4, 5))
    want[1:3, 1:3] = 1
    assert (box_mask(APPENDIX_BOX_CAM, 0.4) == want).all()
    assert scoremap_boxes(APPENDIX_BOX_CAM, 0.7) == [(1, 1, 2, 2)]
    want = np.zeros((4, 5))
    want[1, 1] = 1
    assert (box_mask(APPENDIX_BOX_CAM, 0.7) == want).all()

    # Label-map tie rules: bg wins ties, then the earlier key.
    cams = np.array([[[0.5, 0.25]], [[0.5, 0.25]]], np.float16)
    assert label_map(cams, [4, 2], 1).tolist() == [[0, 0]]   # bg = 0.5 ties at pixel 0; bg 0.75 wins at 1
    cams = np.array([[[0.75]], [[0.75]]], np.float16)
    assert label_map(cams, [4, 2], 2).tolist() == [[5]]
    print('clip_es_caa self-test: Appendix B (T, S², refined, min-max, row-first counterexample, box masks) OK')


# ---------------------------------------------------------------------------------------------
# Fixture

def grad_cam_like(rng: np.random.Generator, gh: int, gw: int) -> np.ndarray:
    """A smooth non-negative map with Grad-CAM's two float32 min-max passes (max ≈ 1 − 1e-7)."""
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float64)
    m = np.zeros((gh, gw))
    for _ in range(rng.integers(1, 5)):
        cy, cx = rng.uniform(-1, gh), rng.uniform(-1, gw)
        s = rng.uniform(0.6, max(gh, gw) / 2.5 + 0.7)
        m += rng.uniform(0.3, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    m += 0.15 * rng.standard_normal((gh, gw))
    m = np.maximum(m - rng.uniform(0.0, 0.3), 0).astype(np.float32)
    for _ in range(2):
        m = m - np.min(m)
        m = m / (1e-7 + np.max(m))
    return m.astype(np.float32)


def special_maps() -> List[np.ndarray]:
    ring = np.zeros((7, 8), np.float32)
    ring[1:6, 1:7] = 0.8
    ring[2:5, 3:5] = 0.0          # a hole: RETR_TREE reports its border too
    ring[3, 6] = 0.9999999
    edge = np.zeros((6, 7), np.float32)
    edge[5, 2] = 0.9999999        # a component only in the last row (vanishes with the clipping)
    edge[1:3, 6] = 0.7            # one only in the last column
    edge[2, 2] = 0.6
    diagonal = np.zeros((5, 5), np.float32)
    for i in range(5):
        diagonal[i, i] = 0.5 + 0.1 * i   # 8-connected through corners only
    diagonal[4, 0] = 0.9999999
    return [APPENDIX_BOX_CAM, ring, edge, diagonal, np.zeros((3, 4), np.float32), np.full((1, 1), 0.9999999, np.float32)]


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode('ascii')


def random_attention(rng: np.random.Generator, gh: int, gw: int, layers: int = 8) -> np.ndarray:
    """Mean of `layers` softmax attention maps over 1 + gh·gw tokens, class token removed (float32).
    Logits favour nearby patches, as real ViT attention does, so refined CAMs span a wide range
    (near-uniform attention would make the final min-max amplify float32 rounding many times)."""
    n = gh * gw
    yy, xx = np.divmod(np.arange(n), gw)
    d2 = (yy[:, None] - yy[None, :]) ** 2 + (xx[:, None] - xx[None, :]) ** 2
    acc = np.zeros((n + 1, n + 1), np.float32)
    for _ in range(layers):
        logits = rng.standard_normal((n + 1, n + 1))
        logits[1:, 1:] -= d2 / rng.uniform(1.0, 4.0)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        acc += (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return (acc / layers)[1:, 1:].astype(np.float32)


def make_fixture(path: str, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    maps = special_maps()
    for gh, gw in [(1, 7), (7, 1), (5, 7), (9, 6), (12, 12), (13, 17), (24, 32), (30, 40)]:
        maps.append(grad_cam_like(rng, gh, gw))
        maps.append(grad_cam_like(rng, gh, gw))
    boxes = []
    for m in maps:
        entry = {'gh': m.shape[0], 'gw': m.shape[1], 'cam': b64(m.astype('<f4'))}
        for thr in (0.4, 0.7):
            entry[f'mask_{thr}'] = ''.join(str(int(v)) for v in box_mask(m, thr).reshape(-1))
            entry[f'boxes_{thr}'] = [list(b) for b in scoremap_boxes(m, thr)]
        boxes.append(entry)

    caa = []
    for gh, gw, k, size, thr, keys in [(1, 1, 1, (7, 9), 0.4, [3]),
                                       (3, 4, 2, (45, 61), 0.4, [14, 2]),
                                       (6, 5, 3, (50, 43), 0.7, [0, 19, 7]),
                                       (7, 9, 2, (41, 67), 0.4, [11, 4])]:
        n = gh * gw
        w = random_attention(rng, gh, gw)
        cams = np.stack([grad_cam_like(rng, gh, gw) for _ in range(k)]) if n > 1 else np.zeros((k, 1, 1), np.float32)
        refined, masks = caa_refine(w, cams, thr)
        hi = highres(refined, size)
        entry = {
            'gh': gh, 'gw': gw, 'k': k, 'size': list(size), 'threshold': thr, 'keys': keys,
            'w': b64(w.astype('<f4')), 'cams': b64(cams.astype('<f4')),
            'masks': ''.join(str(int(v)) for v in masks.reshape(-1)),
            'refined': b64(refined.astype('<f4')),
            'highres_f16': b64(hi.astype('<f2')),
            'labels': {str(tau): b64(label_map(hi, keys, tau)) for tau in (1, 2, 3, 0.3)},
            'crf_probs_f16': b64(crf_probabilities(hi).astype('<f2')),
        }
        caa.append(entry)

    out = {
        'generator': 'weights/clip_es_caa.py --fixture',
        'numpy': np.__version__, 'opencv': cv2.__version__, 'seed': seed,
        'encoding': 'arrays are base64 of little-endian f32 (<f4) or f16 (<f2) or uint8; masks are 0/1 strings, row-major',
        'boxes': boxes,
        'caa': caa,
    }
    with open(path, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {path}: {len(boxes)} box maps, {len(caa)} CAA cases')


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--fixture', help='write the TS test fixture (JSON) here')
    ap.add_argument('--seed', type=int, default=7)
    args = ap.parse_args(argv)
    self_test()
    if args.fixture:
        make_fixture(args.fixture, args.seed)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
