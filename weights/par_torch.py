"""AFA's pixel-adaptive refinement (PAR) and its CAM → label wrapper, re-implemented in PyTorch from
docs/algorithms.md §5 alone (not from AFA's code), as the golden reference for src/wsss/par.ts.

PAR(image [B, 3, h, w], masks [B, C, h', w']):
  1. masks → bilinear, align_corners=True, to (h, w).
  2. 8 neighbours per dilation d (centre excluded), in the order (−d,−d) (−d,0) (−d,+d) (0,−d) (0,+d)
     (+d,−d) (+d,0) (+d,+d) as (dy, dx); dilations [1, 2, 4, 8, 12, 24] → 48 neighbours; replicate
     padding at the borders (a neighbour outside the image is the nearest border pixel).
  3. κ_ij = mean_ch −(|I_j − I_i| / (σ_i + 1e-8) / w1)², σ_i the unbiased std of the 48 neighbour
     values per channel; w1 = 0.3.
  4. π_j = −(ρ_j / (σ_ρ + 1e-8) / w1)², ρ_j = d (axial) or √2·d (diagonal), σ_ρ their unbiased std.
  5. a_ij = softmax_j(κ_ij) + w2 · softmax_j(π_j), w2 = 0.01 (sums to 1.01, not renormalised).
  6. 10 times: M_i ← Σ_j a_ij M_j.

afa_labels (AFA's refine_cams_with_bkg_v2 as §5 describes it): the image and [bg plane, CAMs] are
downscaled by 2 (bilinear, align_corners=False), softmaxed over the present classes, refined by PAR,
upsampled back, argmaxed and mapped through [0, keys + 1]; run with bg = 0.55 and bg = 0.35, the
high-bg label is kept, its background pixels become 255, and pixels both runs call background become 0.

Run `/usr/bin/python3 weights/par_torch.py --fixture test/fixtures/par/par.json` to regenerate the
fixture of test/wsss/par.test.ts (a self-test of the position-softmax constants of §5 runs first).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

DILATIONS = (1, 2, 4, 8, 12, 24)
TAP_ORDER = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def taps(dilations: Sequence[int]) -> List[Tuple[int, int]]:
    return [(dy * d, dx * d) for d in dilations for dy, dx in TAP_ORDER]


def neighbours(x: torch.Tensor, dilations: Sequence[int]) -> torch.Tensor:
    """[B, C, H, W] → [B, C, P, H, W]: x at (y + dy, x + dx), indices clamped to the image."""
    b, c, h, w = x.shape
    pad = max(dilations)
    # Replicate padding by the largest dilation serves every tap (a clamp of the index).
    xp = F.pad(x, (pad, pad, pad, pad), mode='replicate')
    out = [xp[:, :, pad + dy: pad + dy + h, pad + dx: pad + dx + w] for dy, dx in taps(dilations)]
    return torch.stack(out, dim=2)


def position_softmax(dilations: Sequence[int], w1: float = 0.3) -> torch.Tensor:
    root2 = torch.tensor(math.sqrt(2), dtype=torch.float32)
    rho = torch.cat([torch.stack([root2 if dy and dx else torch.tensor(1.0) for dy, dx in TAP_ORDER]) * d for d in dilations])
    pi = -(rho / (rho.std() + 1e-8) / w1) ** 2
    return torch.softmax(pi, dim=0)


def affinity(image: torch.Tensor, dilations: Sequence[int], w1: float = 0.3, w2: float = 0.01) -> torch.Tensor:
    """[B, 3, h, w] → [B, P, h, w] weights a_ij."""
    nb = neighbours(image, dilations)
    std = nb.std(dim=2, keepdim=True)
    k = -((nb - image.unsqueeze(2)).abs() / (std + 1e-8) / w1) ** 2
    k = k.mean(dim=1)
    return torch.softmax(k, dim=1) + w2 * position_softmax(dilations, w1).view(1, -1, 1, 1)


def par(image: torch.Tensor, masks: torch.Tensor, dilations: Sequence[int] = DILATIONS, iterations: int = 10,
        w1: float = 0.3, w2: float = 0.01) -> torch.Tensor:
    masks = F.interpolate(masks, size=image.shape[-2:], mode='bilinear', align_corners=True)
    a = affinity(image, dilations, w1, w2).unsqueeze(1)            # [B, 1, P, h, w]
    for _ in range(iterations):
        masks = (neighbours(masks, dilations) * a).sum(dim=2)
    return masks


def afa_labels(image: torch.Tensor, cams: torch.Tensor, keys: Sequence[int], high: float = 0.55, low: float = 0.35,
               down: int = 2, dilations: Sequence[int] = DILATIONS, iterations: int = 10) -> torch.Tensor:
    """image [3, h, w] in [0, 1], cams [K, h, w] of the present classes → uint8 labels [h, w]."""
    _, h, w = image.shape
    small = (h // down, w // down)
    img = F.interpolate(image[None], size=small, mode='bilinear', align_corners=False)
    lut = torch.tensor([0] + [k + 1 for k in keys])
    runs = []
    for thr in (high, low):
        x = torch.cat([torch.full((1, h, w), thr), cams])[None]
        x = F.interpolate(x, size=small, mode='bilinear', align_corners=False).softmax(dim=1)
        r = par(img, x, dilations, iterations)
        r = F.interpolate(r, size=(h, w), mode='bilinear', align_corners=False)
        runs.append(lut[r.argmax(dim=1)[0]])
    lh, ll = runs
    label = lh.clone()
    label[lh == 0] = 255
    label[(lh + ll) == 0] = 0
    return label.to(torch.uint8)


def self_test() -> None:
    p = position_softmax(DILATIONS)
    root2 = torch.tensor(math.sqrt(2), dtype=torch.float32)
    rho = torch.cat([torch.stack([root2 if dy and dx else torch.tensor(1.0) for dy, dx in TAP_ORDER]) * d for d in DILATIONS])
    assert abs(rho.std().item() - 9.9003) < 1e-4, rho.std()
    want = {1: (0.0683, 0.0765), 2: (0.0346, 0.0544), 4: (0.00228, 0.0140), 8: (0.0, 6.1e-5)}
    for i, d in enumerate(DILATIONS[:4]):
        diag, axial = p[8 * i].item(), p[8 * i + 1].item()
        wd, wa = want[d]
        assert abs(diag - wd) < 5e-4 * max(1, wd * 10) and abs(axial - wa) < max(5e-5, wa * 5e-3), (d, diag, axial)
    assert abs(p.sum().item() - 1) < 1e-6
    print('par_torch self-test: position softmax constants of §5 OK')


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode('ascii')


def smooth_image(g: torch.Generator, h: int, w: int) -> torch.Tensor:
    """Piecewise-smooth colours in [0, 1]: a few flat regions plus a gradient and noise."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing='ij')
    img = torch.rand(3, 1, 1, generator=g) * 0.3 + 0.1 * (xx / max(w, 1))
    for _ in range(3):
        cy, cx, r = torch.rand(3, generator=g) * torch.tensor([h, w, max(h, w) / 2])
        inside = ((yy - cy) ** 2 + (xx - cx) ** 2) < r * r
        img = torch.where(inside, torch.rand(3, 1, 1, generator=g), img)
    return (img + 0.03 * torch.randn(3, h, w, generator=g)).clamp(0, 1)


def make_fixture(path: str, seed: int = 3) -> None:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    cases = []
    for (h, w), (mh, mw), c, dil, iters in [((13, 17), (7, 9), 3, DILATIONS, 10),
                                             ((1, 9), (1, 4), 2, DILATIONS, 10),
                                             ((30, 41), (30, 41), 2, (1, 2, 4), 3),
                                             ((26, 9), (5, 3), 1, (1, 3), 10)]:
        image = smooth_image(g, h, w)
        masks = torch.rand(c, mh, mw, generator=g)
        out = par(image[None], masks[None], dil, iters)[0]
        case = {'image': b64(image.numpy().astype('<f4')), 'size': [h, w], 'masks': b64(masks.numpy().astype('<f4')),
                'mask_size': [c, mh, mw], 'dilations': list(dil), 'iterations': iters, 'out': b64(out.numpy().astype('<f4'))}
        if h * w < 250:  # the [P, h, w] weights only for the small cases, to keep the fixture small
            case['affinity'] = b64(affinity(image[None], dil)[0].numpy().astype('<f4'))
        cases.append(case)
    afa = []
    for (h, w), keys in [((24, 30), [14, 2]), ((33, 41), [6])]:
        image = smooth_image(g, h, w)
        yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing='ij')
        cams = []
        for _ in keys:
            cy, cx = torch.rand(2, generator=g) * torch.tensor([h, w])
            cams.append(torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (min(h, w) / 3) ** 2)))
        cams = torch.stack(cams)
        label = afa_labels(image, cams, keys)
        afa.append({'image': b64(image.numpy().astype('<f4')), 'size': [h, w], 'cams': b64(cams.numpy().astype('<f4')),
                    'keys': keys, 'labels': b64(label.numpy())})
    out = {'generator': 'weights/par_torch.py --fixture', 'torch': torch.__version__, 'seed': seed,
           'encoding': 'arrays are base64 of little-endian f32 (<f4) or uint8, row-major', 'par': cases, 'afa': afa}
    with open(path, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {path}: {len(cases)} PAR cases, {len(afa)} AFA label cases')


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--fixture', help='write the TS test fixture (JSON) here')
    ap.add_argument('--seed', type=int, default=3)
    args = ap.parse_args(argv)
    self_test()
    if args.fixture:
        make_fixture(args.fixture, args.seed)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
