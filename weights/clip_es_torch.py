"""How CLIP-ES uses a CLIP image tower (docs/algorithms.md §1.3-1.5, §3.3-3.5), on top of weights/torch_clip.py,
plus a CPU-fast forward used for training the world CLIP.

- `preprocess_clip_es(img)`: stretch-resize to multiples of 16 with Pillow bicubic on uint8, then normalize (§1.3).
- `interpolate_positional_embedding(pos, gh, gw)`: bilinear, align_corners=False, class row kept (§1.4);
  `round_fp16=True` adds CLIP-ES's fp16 rounding of the whole table.
- `image_tokens(model, images)`: token states after the vision blocks (before ln_post), any grid size.
- `patch_mean_embedding(model, tokens)`: CLIP-ES's image feature, mean over patch tokens of ln_post, @ proj
  (§1.5), as opposed to torch_clip's standard class-token feature.
- `grad_cam(...)`: Softmax-GradCAM on the last block's ln_1 output (§3.4), with the attention maps for CAA.

Why a separate forward: Debian's python3-torch links the reference BLAS (about 1 GFLOP/s), so nn.Linear,
matmul and bmm are very slow, while convolutions go through oneDNN (tens of GFLOP/s). `linear()` therefore
runs every Linear as a 1x1 convolution on a channels-last view (no copy), and attention's two batched
products run as grouped 1x1 convolutions. The parameters are the same `torch_clip.CLIP` parameters (OpenAI
key layout); results agree with `torch_clip` to float32 rounding (checked by `check_against_reference`).
"""

from __future__ import annotations

import math
import time
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# ---------------------------------------------------------------------------------------------
# oneDNN-friendly building blocks

def linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """x [N, L, Din] @ weight[Dout, Din]^T + bias, as a 1x1 convolution over a channels-last view.
    torch sends 1x1 convolutions with a batch under 16 on one thread to its slow path unless they are
    strided; a stride along the width of size 1 changes nothing else, so small batches use it."""
    stride = (1, 2) if x.shape[0] < 16 else (1, 1)
    y = F.conv2d(x.permute(0, 2, 1).unsqueeze(-1), weight[:, :, None, None], bias, stride=stride)
    return y.squeeze(-1).permute(0, 2, 1)


def attention(a: torch.Tensor, attn: torch.nn.MultiheadAttention, heads: int,
              mask: Optional[torch.Tensor] = None, want_weights: bool = False
              ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """torch.nn.MultiheadAttention's computation (q scaled after the bias, softmax per head) on batch-first
    [N, L, D]. Returns the output and, if asked, the head-averaged post-softmax probabilities [N, L, L]
    (row = query), the matrices CLIP-ES's CAA uses."""
    n, length, width = a.shape
    dh = width // heads
    g = n * heads
    qkv = linear(a, attn.in_proj_weight, attn.in_proj_bias).reshape(n, length, 3, heads, dh)
    q = qkv[:, :, 0] * dh ** -0.5
    k = qkv[:, :, 1]
    v = qkv[:, :, 2]
    # scores[g, j, i] = sum_d k[g, j, d] q[g, i, d]: query i on the spatial axis, keys as output channels
    qi = q.permute(0, 2, 3, 1).reshape(1, g * dh, length, 1)
    kw = k.permute(0, 2, 1, 3).reshape(g * length, dh, 1, 1)
    scores = F.conv2d(qi, kw, groups=g, stride=(1, 2)).reshape(g, length, length)
    if mask is not None:
        scores = scores + mask.t()
    probs = scores.softmax(dim=1)                                   # over keys j
    vw = v.permute(0, 2, 3, 1).reshape(g * dh, length, 1, 1)
    o = F.conv2d(probs.reshape(1, g * length, length, 1), vw, groups=g, stride=(1, 2))
    o = o.reshape(n, heads * dh, length).permute(0, 2, 1)
    out = linear(o, attn.out_proj.weight, attn.out_proj.bias)
    weights = None
    if want_weights:
        weights = probs.reshape(n, heads, length, length).mean(dim=1).transpose(1, 2)   # [n, query, key]
    return out, weights


def mlp(x: torch.Tensor, block) -> torch.Tensor:
    h = linear(x, block.mlp.c_fc.weight, block.mlp.c_fc.bias)
    h = h * torch.sigmoid(1.702 * h)                                # QuickGELU
    return linear(h, block.mlp.c_proj.weight, block.mlp.c_proj.bias)


def block_forward(x: torch.Tensor, block, heads: int, mask: Optional[torch.Tensor] = None,
                  want_weights: bool = False):
    """A torch_clip ResidualAttentionBlock on batch-first [N, L, D]: x + MHA(ln_1 x), then + MLP(ln_2 x)."""
    a, w = attention(block.ln_1(x), block.attn, heads, mask, want_weights)
    x = x + a
    x = x + mlp(block.ln_2(x), block)
    return (x, w) if want_weights else x


# ---------------------------------------------------------------------------------------------
# Image side

def preprocess_clip_es(img) -> torch.Tensor:
    """PIL RGB image -> [3, H', W'] normalized, H' = ceil(H/16)*16, W' = ceil(W/16)*16 (stretched, §1.3)."""
    from PIL import Image

    w, h = img.size
    w2, h2 = int(math.ceil(w / 16) * 16), int(math.ceil(h / 16) * 16)
    if (w2, h2) != (w, h):
        img = img.resize((w2, h2), Image.BICUBIC)
    return to_tensor_normalized(img)


def to_tensor_normalized(img) -> torch.Tensor:
    x = torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    return (x - mean) / std


def interpolate_positional_embedding(pos: torch.Tensor, gh: int, gw: int, round_fp16: bool = False) -> torch.Tensor:
    """[1 + g*g, D] -> [1 + gh*gw, D]: class row kept, the grid resized bilinearly (align_corners=False)."""
    g = int(round(math.sqrt(pos.shape[0] - 1)))
    cls, grid = pos[:1], pos[1:]
    if (gh, gw) != (g, g):
        grid = grid.reshape(1, g, g, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bilinear", align_corners=False)
        grid = grid.permute(0, 2, 3, 1).reshape(gh * gw, -1)
    out = torch.cat([cls, grid], dim=0)
    return out.half().float() if round_fp16 else out


def embed_patches(model, images: torch.Tensor, round_fp16_pos: bool = False) -> torch.Tensor:
    """[N, 3, H, W] (H, W multiples of the patch) -> ln_pre([class; patches] + pos) [N, 1 + gh*gw, D]."""
    v = model.visual
    patch = v.conv1.weight.shape[-1]
    gh, gw = images.shape[2] // patch, images.shape[3] // patch
    x = F.conv2d(images, v.conv1.weight, stride=patch).flatten(2).transpose(1, 2)
    x = torch.cat([v.class_embedding.expand(x.shape[0], 1, -1), x], dim=1)
    x = x + interpolate_positional_embedding(v.positional_embedding, gh, gw, round_fp16_pos)
    return v.ln_pre(x)


def image_tokens(model, images: torch.Tensor, round_fp16_pos: bool = False, blocks: Optional[int] = None) -> torch.Tensor:
    """Token states after `blocks` vision blocks (default all), before ln_post: [N, 1 + gh*gw, D]."""
    x = embed_patches(model, images, round_fp16_pos)
    heads = model.config.vheads
    resblocks = list(model.visual.transformer.resblocks)
    for blk in resblocks[: len(resblocks) if blocks is None else blocks]:
        x = block_forward(x, blk, heads)
    return x


def patch_mean_embedding(model, tokens: torch.Tensor) -> torch.Tensor:
    """CLIP-ES's image feature (§1.5): mean over patch tokens of ln_post(token), then @ proj."""
    return model.visual.ln_post(tokens[:, 1:]).mean(dim=1) @ model.visual.proj


def class_token_embedding(model, tokens: torch.Tensor) -> torch.Tensor:
    """Standard CLIP image feature: ln_post(class token) @ proj."""
    return model.visual.ln_post(tokens[:, 0]) @ model.visual.proj


# ---------------------------------------------------------------------------------------------
# Text side

def encode_text(model, ids: torch.Tensor) -> torch.Tensor:
    """torch_clip.CLIP.encode_text with the fast blocks: EOT (argmax id) pooling, @ text_projection."""
    x = model.token_embedding(ids) + model.positional_embedding
    mask = model.attn_mask.to(x.dtype)
    for blk in model.transformer.resblocks:
        x = block_forward(x, blk, model.config.theads, mask)
    x = model.ln_final(x)
    return x[torch.arange(x.shape[0]), ids.argmax(dim=-1)] @ model.text_projection


def normalized(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


# ---------------------------------------------------------------------------------------------
# Softmax-GradCAM (§3.4) and CAA (§3.5)

def grad_cam(model, image: torch.Tensor, text_features: torch.Tensor, targets: List[int],
             positional: Optional[torch.Tensor] = None, extras: Optional[dict] = None):
    """CLIP-ES's CAM for one preprocessed image [3, H', W'] and text rows [K + M, E] (the image's K
    label prompts first, then the M background prompts). For each target row c in `targets`, back-
    propagates p_c (softmax over all rows of exp(logit_scale)·cos) to A = ln_1 output of the last block
    and returns (cams [len(targets), gh, gw] after ReLU and CLIP-ES's two min-max passes, probabilities
    [K + M], attention maps [blocks, L, L] head-averaged, row = query).

    `positional`: a [1 + gh*gw, D] table to add instead of CLIP-ES's own (float32 bilinear, then
    rounded to fp16), e.g. the exactly rounded table seedmask computes (make_gradcam_goldens.py).
    `extras`: a dict that receives 'block_input' (X entering the last block, [L, D]),
    'grad_weights' ([len(targets), D]: the mean gradient per channel, Grad-CAM's w_k) and 'seconds'
    ({'vision': patch embedding and blocks 0..L-2, 'block': the last block, head, backward, CAMs})."""
    start = time.perf_counter()
    v = model.visual
    patch = v.conv1.weight.shape[-1]
    gh, gw = image.shape[1] // patch, image.shape[2] // patch
    heads = model.config.vheads
    resblocks = list(v.transformer.resblocks)
    maps = []
    with torch.no_grad():
        if positional is None:
            x = embed_patches(model, image[None], round_fp16_pos=True)
        else:
            x = F.conv2d(image[None], v.conv1.weight, stride=patch).flatten(2).transpose(1, 2)
            x = v.ln_pre(torch.cat([v.class_embedding.expand(1, 1, -1), x], dim=1) + positional)
        for blk in resblocks[:-1]:
            x, w = block_forward(x, blk, heads, want_weights=True)
            maps.append(w[0])
    vision_done = time.perf_counter()
    last = resblocks[-1]
    a = last.ln_1(x).detach().requires_grad_(True)
    att, w = attention(a, last.attn, heads, want_weights=True)
    maps.append(w[0].detach())
    z = x + att
    z = z + mlp(last.ln_2(z), last)
    e = normalized(patch_mean_embedding(model, z))
    t = normalized(text_features)
    probs = (model.logit_scale.exp() * e @ t.t()).softmax(dim=-1)[0]
    cams, grad_weights = [], []
    for c in targets:
        (grad,) = torch.autograd.grad(probs[c], a, retain_graph=True)
        act, g = a[0, 1:].detach(), grad[0, 1:]
        weights = g.mean(dim=0)                                      # mean gradient per channel
        cam = torch.relu(act @ weights).reshape(gh, gw)
        for _ in range(2):                                           # scale_cam_image twice (§3.4), float32,
            cam = cam - cam.min()                                    # the epsilon added to the max
            cam = cam / (1e-7 + cam.max())
        cams.append(cam)
        grad_weights.append(weights)
    if extras is not None:
        extras["block_input"] = x[0].detach()
        extras["grad_weights"] = torch.stack(grad_weights)
        extras["seconds"] = {"vision": vision_done - start, "block": time.perf_counter() - vision_done}
    return torch.stack(cams), probs.detach(), torch.stack(maps)


def caa_refine(cams: torch.Tensor, maps: torch.Tensor, box_threshold: float = 0.4, layers: int = 8) -> torch.Tensor:
    """CAA (§3.5) simplified: affinity from the mean of the last `layers` attention maps (all, if fewer),
    class token dropped, 3 Sinkhorn rounds (column then row), symmetrized, applied twice to the CAM masked
    by the union of bounding boxes of its connected components above box_threshold·max. Bounding boxes
    here come from scipy-free 8-connected labelling, without CLIP-ES's edge-clipping quirk."""
    w = maps[-layers:].mean(dim=0)[1:, 1:].double()
    t = w / w.sum(dim=0, keepdim=True)
    t = t / t.sum(dim=1, keepdim=True)
    for _ in range(2):
        t = t / t.sum(dim=0, keepdim=True)
        t = t / t.sum(dim=1, keepdim=True)
    s = (t + t.t()) / 2
    out = []
    for cam in cams:
        gh, gw = cam.shape
        box = _box_mask(cam.numpy(), box_threshold)
        vec = (torch.from_numpy(box).double().flatten() * cam.double().flatten())
        r = (s @ (s @ vec)).reshape(gh, gw).float()
        r = r - r.min()
        out.append(r / (1e-7 + r.max()))
    return torch.stack(out)


def _box_mask(cam: np.ndarray, threshold: float) -> np.ndarray:
    s8 = (cam * 255).astype(np.uint8)
    fg = s8 > int(threshold * s8.max())
    mask = np.zeros_like(fg, dtype=np.float64)
    seen = np.zeros_like(fg)
    h, w = fg.shape
    for r0 in range(h):
        for c0 in range(w):
            if not fg[r0, c0] or seen[r0, c0]:
                continue
            stack = [(r0, c0)]
            seen[r0, c0] = True
            rows, cols = [], []
            while stack:
                r, c = stack.pop()
                rows.append(r)
                cols.append(c)
                for dr in (-1, 0, 1):
                    for dc in (-1, 0, 1):
                        rr, cc = r + dr, c + dc
                        if 0 <= rr < h and 0 <= cc < w and fg[rr, cc] and not seen[rr, cc]:
                            seen[rr, cc] = True
                            stack.append((rr, cc))
            mask[min(rows): max(rows) + 1, min(cols): max(cols) + 1] = 1
    return mask


def check_against_reference(model, size: Tuple[int, int] = (64, 48), seed: int = 0) -> float:
    """Largest |difference| between this module's forward and torch_clip's (no interpolation: the
    model's own grid). Both towers. Returns the max over image and text features."""
    gen = torch.Generator().manual_seed(seed)
    cfg = model.config
    img = torch.randn(3, 3, cfg.image_size, cfg.image_size, generator=gen)
    ids = torch.randint(0, cfg.vocab_size - 1, (4, cfg.context_length), generator=gen)
    ids[:, cfg.context_length // 2] = cfg.vocab_size - 1
    with torch.no_grad():
        d1 = (class_token_embedding(model, image_tokens(model, img)) - model.encode_image(img)).abs().max()
        d2 = (encode_text(model, ids) - model.encode_text(ids)).abs().max()
    return float(max(d1, d2))
