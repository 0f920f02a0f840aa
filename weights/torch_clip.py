"""A PyTorch CLIP (ViT image tower + causal text tower) written from docs/algorithms.md (the project specification)
§1.1-1.2, §1.6 and §2.2, for seedmask's test weights and, later, golden outputs of the WebGPU forward.

Module and attribute names are chosen so that `state_dict()` keys are exactly the OpenAI layout of
§1.6 (`visual.conv1.weight`, `visual.transformer.resblocks.{i}.attn.in_proj_weight`, ...), which is
also seedmask's canonical layout. Attention is `torch.nn.MultiheadAttention` (fused q/k/v in
`in_proj_weight`, q scaled by head_dim^-0.5 after the bias), MLPs use QuickGELU, LayerNorm eps is
1e-5 and computes in float32.

Usage (run with /usr/bin/python3, which has Debian's python3-torch):

    from torch_clip import CONFIGS, build_clip, init_random
    model = build_clip(CONFIGS["tiny"])
    init_random(model, seed=0)
    image_features = model.encode_image(images)   # [N, E]
    text_features = model.encode_text(token_ids)  # [N, E]
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from typing import Optional

import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class ClipConfig:
    embed_dim: int
    image_size: int
    patch_size: int
    vision_width: int
    vision_layers: int
    context_length: int
    vocab_size: int
    text_width: int
    text_layers: int
    # Heads default to width // 64: every OpenAI CLIP uses 64-wide heads (docs/algorithms.md §1.1).
    vision_heads: Optional[int] = None
    text_heads: Optional[int] = None
    mlp_ratio: int = 4

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def vheads(self) -> int:
        return self.vision_heads or max(1, self.vision_width // 64)

    @property
    def theads(self) -> int:
        return self.text_heads or max(1, self.text_width // 64)


# Small enough to commit in every format (< 5 MB in all), yet every kind of tensor is present:
# patch 16 like the real model, a 3x3 grid (10 tokens), 2 blocks per tower, a 320-token vocab.
TINY = ClipConfig(embed_dim=32, image_size=48, patch_size=16, vision_width=64, vision_layers=2,
                  context_length=16, vocab_size=320, text_width=64, text_layers=2)
# OpenAI ViT-B/16 (docs/algorithms.md §1.1, §1.6).
VITB16 = ClipConfig(embed_dim=512, image_size=224, patch_size=16, vision_width=768, vision_layers=12,
                    context_length=77, vocab_size=49408, text_width=512, text_layers=12)
CONFIGS = {"tiny": TINY, "vitb16": VITB16}


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 and cast back to the input dtype (matters for fp16 models)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).to(x.dtype)


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x), CLIP's activation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """Pre-LN block: x + MHA(ln_1(x)), then x + MLP(ln_2(x)). Sequence-first tensors [L, N, D]."""

    def __init__(self, width: int, heads: int, mlp_width: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = LayerNorm(width, eps=1e-5)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, mlp_width)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(mlp_width, width)),
        ]))
        self.ln_2 = LayerNorm(width, eps=1e-5)

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, mlp_width: int):
        super().__init__()
        # A Sequential only for the key names (`resblocks.{i}`); forward passes the mask to each block.
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, mlp_width) for _ in range(layers)])

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, attn_mask)
        return x


class VisionTransformer(nn.Module):
    def __init__(self, cfg: ClipConfig):
        super().__init__()
        w = cfg.vision_width
        self.conv1 = nn.Conv2d(3, w, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(w))
        self.positional_embedding = nn.Parameter(torch.zeros(cfg.grid * cfg.grid + 1, w))
        self.ln_pre = LayerNorm(w, eps=1e-5)
        self.transformer = Transformer(w, cfg.vision_layers, cfg.vheads, cfg.mlp_ratio * w)
        self.ln_post = LayerNorm(w, eps=1e-5)
        self.proj = nn.Parameter(torch.zeros(w, cfg.embed_dim))

    def tokens(self, image: torch.Tensor) -> torch.Tensor:
        """All token states after the last block, before ln_post: [N, 1 + grid*grid, D]."""
        x = self.conv1(image.to(self.conv1.weight.dtype))           # [N, D, gh, gw]
        x = x.flatten(2).transpose(1, 2)                              # [N, gh*gw, D], row-major patches
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = self.transformer(x.permute(1, 0, 2))                      # sequence-first for MHA
        return x.permute(1, 0, 2)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Standard CLIP image embedding: ln_post(class token) @ proj, [N, E]."""
        return self.ln_post(self.tokens(image)[:, 0, :]) @ self.proj


def causal_mask(n: int) -> torch.Tensor:
    """Additive mask: -inf above the diagonal (token i sees tokens 0..i)."""
    return torch.full((n, n), float("-inf")).triu_(1)


class CLIP(nn.Module):
    def __init__(self, cfg: ClipConfig):
        super().__init__()
        self.config = cfg
        t = cfg.text_width
        self.visual = VisionTransformer(cfg)
        self.transformer = Transformer(t, cfg.text_layers, cfg.theads, cfg.mlp_ratio * t)
        self.token_embedding = nn.Embedding(cfg.vocab_size, t)
        self.positional_embedding = nn.Parameter(torch.zeros(cfg.context_length, t))
        self.ln_final = LayerNorm(t, eps=1e-5)
        self.text_projection = nn.Parameter(torch.zeros(t, cfg.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        # Not a weight: kept out of state_dict() so the keys are exactly the OpenAI layout.
        self.register_buffer("attn_mask", causal_mask(cfg.context_length), persistent=False)

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """[N, 3, S, S] normalized pixels → [N, E] (not L2-normalized)."""
        return self.visual(image)

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """[N, context] token ids (EOT = largest id) → [N, E] (not L2-normalized)."""
        x = self.token_embedding(ids) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2), self.attn_mask.to(x.dtype)).permute(1, 0, 2)
        x = self.ln_final(x)
        pooled = x[torch.arange(x.shape[0]), ids.argmax(dim=-1)]     # EOT pooling
        return pooled @ self.text_projection

    def forward(self, image: torch.Tensor, ids: torch.Tensor):
        """Returns (logits_per_image [N_img, N_txt], logits_per_text)."""
        img = self.encode_image(image)
        txt = self.encode_text(ids)
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        logits = self.logit_scale.exp() * img @ txt.t()
        return logits, logits.t()


def build_clip(cfg: ClipConfig) -> CLIP:
    return CLIP(cfg).eval()


def fp16_under_convert_weights(key: str) -> bool:
    """Whether OpenAI's `convert_weights` stores this state-dict key in float16 (docs/algorithms.md §1.5):
    conv and linear weights/biases, the MHA input projection, `proj` and `text_projection`. Embeddings,
    LayerNorms and `logit_scale` stay float32."""
    last = key.rsplit(".", 1)[-1]
    return (key.endswith("conv1.weight") or last in ("in_proj_weight", "in_proj_bias", "proj", "text_projection")
            or ".out_proj." in key or ".mlp.c_fc." in key or ".mlp.c_proj." in key)


def convert_weights_fp16(module: nn.Module) -> None:
    """In-place float16 conversion with OpenAI's `convert_weights` rules (works on traced modules too)."""
    for key, p in module.named_parameters():
        if fp16_under_convert_weights(key):
            p.data = p.data.half()


def round_to_f16_and_bf16(x: torch.Tensor) -> torch.Tensor:
    """Nearest value with at most 8 significant bits, magnitudes under 2^-14 flushed to zero: such
    values are exact in float16, bfloat16 and float32, so every format of a test model holds
    bit-identical weights whatever its storage dtype."""
    y = x.float().bfloat16().float()
    y[y.abs() < 2.0 ** -14] = 0.0
    assert torch.equal(y.half().float(), y) and torch.equal(y.bfloat16().float(), y)
    return y


@torch.no_grad()
def init_random(model: CLIP, seed: int = 0, exact_low_precision: bool = True) -> None:
    """Deterministic random weights with non-trivial LayerNorm weights/biases and linear biases (so a
    forward that ignores them cannot match). Scales keep activations O(1) through the towers.
    With `exact_low_precision`, values are rounded with round_to_f16_and_bf16."""
    gen = torch.Generator().manual_seed(seed)

    def randn(shape) -> torch.Tensor:
        return torch.randn(shape, generator=gen)

    for key, p in model.named_parameters():
        shape = p.shape
        last = key.rsplit(".", 1)[-1]
        is_ln = ".ln_" in f".{key}" or key.startswith("ln_")
        if key == "logit_scale":
            value = torch.tensor(math.log(1 / 0.07))
        elif is_ln and last == "weight":
            value = 1.0 + 0.2 * randn(shape)
        elif is_ln and last == "bias":
            value = 0.1 * randn(shape)
        elif last in ("bias", "in_proj_bias"):
            value = 0.05 * randn(shape)
        elif key.endswith("class_embedding") or key.endswith("positional_embedding"):
            value = 0.5 * randn(shape)
        elif key == "token_embedding.weight":
            value = 0.5 * randn(shape)
        elif last in ("proj", "text_projection"):
            value = randn(shape) * shape[0] ** -0.5
        else:
            # Linear/conv weights [out, in, ...]: unit-variance outputs for unit-variance inputs.
            fan_in = p[0].numel()
            value = randn(shape) * fan_in ** -0.5
        if exact_low_precision:
            value = round_to_f16_and_bf16(value)
        p.copy_(value.to(p.dtype))
