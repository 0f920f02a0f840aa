"""Writes one random CLIP (weights/torch_clip.py, fixed seed) in every weight format seedmask imports,
plus a manifest the TypeScript tests check against.

    /usr/bin/python3 weights/make_test_weights.py --size tiny   --out test/fixtures/weights/tiny
    /usr/bin/python3 weights/make_test_weights.py --size vitb16 --out weights/generated/vitb16

Outputs (see weights/README.md):
    clip_state_dict.pt            torch.save(model.state_dict()): zip, OpenAI keys, float32
    clip_torchscript.pt           torch.jit.trace + save, like OpenAI's ViT-B-16.pt: OpenAI's
                                  convert_weights float16 rules (Half and Float storages mixed),
                                  plus the input_resolution/context_length/vocab_size scalars
    clip_openai.safetensors       OpenAI keys, bfloat16 by default (--openai-dtype)
    hf/model.safetensors          Hugging Face CLIPModel keys (q/k/v split, projections
                                  transposed), float32, with the int64 position_ids buffers
    hf/config.json                Hugging Face CLIPConfig
    manifest.json                 architecture, and per canonical tensor: shape, sums, samples
    convnet.pth, convnet.expected.json   (tiny only) a non-CLIP torch.save checkpoint with views,
                                  shared storages, strides, fp16/bf16/f64/int/bool tensors

Weights are rounded to values exact in float16 and bfloat16, so every file holds bit-identical
numbers whatever its storage dtype. Needs Debian's python3-torch; no safetensors package is used
(the format is written here directly). Never unpickles anything it did not just write.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import struct
import sys
from collections import OrderedDict

import torch
from torch import nn

sys.dont_write_bytecode = True  # keep weights/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_clip import CONFIGS, ClipConfig, build_clip, convert_weights_fp16, fp16_under_convert_weights, init_random  # noqa: E402

SAFETENSORS_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


# --------------------------------------------------------------------------------------------
# safetensors writer: u64 LE header length, JSON header (space-padded to 8 bytes), data section.

def tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the bits
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path: str, tensors: "OrderedDict[str, torch.Tensor]", metadata: dict | None = None) -> None:
    header: dict = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, t in tensors.items():
        size = t.numel() * t.element_size()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for t in tensors.values():
            f.write(tensor_bytes(t))


# --------------------------------------------------------------------------------------------
# Hugging Face layout (docs/algorithms.md §1.6, second table)

def to_hf_state_dict(sd: "OrderedDict[str, torch.Tensor]", cfg: ClipConfig) -> "OrderedDict[str, torch.Tensor]":
    hf: "OrderedDict[str, torch.Tensor]" = OrderedDict()

    def blocks(src: str, dst: str, layers: int) -> None:
        for i in range(layers):
            s, d = f"{src}{i}.", f"{dst}{i}."
            q, k, v = sd[s + "attn.in_proj_weight"].chunk(3, dim=0)
            qb, kb, vb = sd[s + "attn.in_proj_bias"].chunk(3, dim=0)
            hf[d + "self_attn.k_proj.weight"] = k
            hf[d + "self_attn.k_proj.bias"] = kb
            hf[d + "self_attn.v_proj.weight"] = v
            hf[d + "self_attn.v_proj.bias"] = vb
            hf[d + "self_attn.q_proj.weight"] = q
            hf[d + "self_attn.q_proj.bias"] = qb
            hf[d + "self_attn.out_proj.weight"] = sd[s + "attn.out_proj.weight"]
            hf[d + "self_attn.out_proj.bias"] = sd[s + "attn.out_proj.bias"]
            hf[d + "layer_norm1.weight"] = sd[s + "ln_1.weight"]
            hf[d + "layer_norm1.bias"] = sd[s + "ln_1.bias"]
            hf[d + "mlp.fc1.weight"] = sd[s + "mlp.c_fc.weight"]
            hf[d + "mlp.fc1.bias"] = sd[s + "mlp.c_fc.bias"]
            hf[d + "mlp.fc2.weight"] = sd[s + "mlp.c_proj.weight"]
            hf[d + "mlp.fc2.bias"] = sd[s + "mlp.c_proj.bias"]
            hf[d + "layer_norm2.weight"] = sd[s + "ln_2.weight"]
            hf[d + "layer_norm2.bias"] = sd[s + "ln_2.bias"]

    hf["text_model.embeddings.token_embedding.weight"] = sd["token_embedding.weight"]
    hf["text_model.embeddings.position_embedding.weight"] = sd["positional_embedding"]
    hf["text_model.embeddings.position_ids"] = torch.arange(cfg.context_length, dtype=torch.int64).unsqueeze(0)
    blocks("transformer.resblocks.", "text_model.encoder.layers.", cfg.text_layers)
    hf["text_model.final_layer_norm.weight"] = sd["ln_final.weight"]
    hf["text_model.final_layer_norm.bias"] = sd["ln_final.bias"]
    hf["vision_model.embeddings.class_embedding"] = sd["visual.class_embedding"]
    hf["vision_model.embeddings.patch_embedding.weight"] = sd["visual.conv1.weight"]
    hf["vision_model.embeddings.position_embedding.weight"] = sd["visual.positional_embedding"]
    hf["vision_model.embeddings.position_ids"] = torch.arange(cfg.grid * cfg.grid + 1, dtype=torch.int64).unsqueeze(0)
    hf["vision_model.pre_layrnorm.weight"] = sd["visual.ln_pre.weight"]  # sic
    hf["vision_model.pre_layrnorm.bias"] = sd["visual.ln_pre.bias"]
    blocks("visual.transformer.resblocks.", "vision_model.encoder.layers.", cfg.vision_layers)
    hf["vision_model.post_layernorm.weight"] = sd["visual.ln_post.weight"]
    hf["vision_model.post_layernorm.bias"] = sd["visual.ln_post.bias"]
    hf["visual_projection.weight"] = sd["visual.proj"].t()          # HF Linear: [E, Dv]
    hf["text_projection.weight"] = sd["text_projection"].t()        # HF Linear: [E, Dt]
    hf["logit_scale"] = sd["logit_scale"]
    return hf


def hf_config(cfg: ClipConfig) -> dict:
    """A CLIPConfig as transformers writes it (the fields seedmask reads, plus common ones)."""
    return {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": cfg.embed_dim,
        "logit_scale_init_value": 2.6592,
        "initializer_factor": 1.0,
        "torch_dtype": "float32",
        "text_config": {
            "model_type": "clip_text_model",
            "hidden_size": cfg.text_width,
            "intermediate_size": cfg.mlp_ratio * cfg.text_width,
            "num_attention_heads": cfg.theads,
            "num_hidden_layers": cfg.text_layers,
            "max_position_embeddings": cfg.context_length,
            "vocab_size": cfg.vocab_size,
            "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-05,
            "projection_dim": cfg.embed_dim,
            "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
        },
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": cfg.vision_width,
            "intermediate_size": cfg.mlp_ratio * cfg.vision_width,
            "num_attention_heads": cfg.vheads,
            "num_hidden_layers": cfg.vision_layers,
            "image_size": cfg.image_size,
            "patch_size": cfg.patch_size,
            "num_channels": 3,
            "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-05,
            "projection_dim": cfg.embed_dim,
        },
    }


# --------------------------------------------------------------------------------------------

def save_torchscript(model: nn.Module, cfg: ClipConfig, path: str) -> None:
    """Traces the model and saves it the way OpenAI's JIT checkpoint looks: fp16 by convert_weights,
    plus three int64 scalars that build_model later deletes (docs/algorithms.md §1.6)."""
    m = copy.deepcopy(model).eval()
    m.register_buffer("input_resolution", torch.tensor(cfg.image_size))
    m.register_buffer("context_length", torch.tensor(cfg.context_length))
    m.register_buffer("vocab_size", torch.tensor(cfg.vocab_size))
    gen = torch.Generator().manual_seed(1)
    image = torch.randn(1, 3, cfg.image_size, cfg.image_size, generator=gen)
    ids = torch.randint(0, cfg.vocab_size - 1, (1, cfg.context_length), generator=gen)
    ids[0, cfg.context_length // 2] = cfg.vocab_size - 1  # an EOT token
    with torch.no_grad():
        traced = torch.jit.trace(m, (image, ids), check_trace=False)
    convert_weights_fp16(traced)  # after tracing: CPU kernels need float32 to trace
    traced.save(path)


def stats(t: torch.Tensor) -> dict:
    flat = t.detach().double().flatten()
    return {
        "shape": list(t.shape),
        "sum": flat.sum().item(),
        "abs_sum": flat.abs().sum().item(),
        "first": flat[:6].tolist(),
        "last": flat[-6:].tolist(),
    }


def verify(path: str, expected: "OrderedDict[str, torch.Tensor]", jit: bool) -> None:
    """Reads the file back with PyTorch itself (our own files only) and compares values."""
    sd = torch.jit.load(path).state_dict() if jit else torch.load(path)
    for k, v in expected.items():
        got = sd[k]
        assert got.shape == v.shape and torch.equal(got.float(), v.float()), f"{path}: {k} differs"
        if jit:
            want = torch.float16 if fp16_under_convert_weights(k) else torch.float32
            assert got.dtype == want, f"{path}: {k} is {got.dtype}, expected {want}"


def write_convnet(out: str, seed: int) -> None:
    """A non-CLIP checkpoint that exercises the PyTorch reader's corners, and its expected values."""
    torch.manual_seed(seed)

    class TinyConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(4)
            self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
            self.fc = nn.Linear(6, 5)

    net = TinyConvNet()
    with torch.no_grad():
        net.bn1.running_mean.copy_(torch.randn(4) * 0.1)
        net.bn1.running_var.copy_(torch.rand(4) + 0.5)
        net.bn1.num_batches_tracked.fill_(1234567)   # int64 buffer
        net.bn1.weight.copy_(1 + 0.1 * torch.randn(4))
    base = torch.arange(24, dtype=torch.float32) * 0.25 - 3.0        # one storage, many views
    half2d = (torch.arange(12, dtype=torch.float32) / 8 - 0.5).half().view(3, 4)
    extras = OrderedDict([
        ("view_offset", base[5:11]),                               # storage offset 5
        ("view_2d", base[12:24].view(3, 4)),                       # same storage, offset 12
        ("transposed", base[:12].view(3, 4).t()),                  # strides (1, 4)
        ("expanded", torch.tensor([1.5, -2.0, 0.25]).expand(2, 3)),  # stride 0
        ("half", torch.tensor([1.0, -2.5, 65504.0, 2.0 ** -24, 0.0, -0.0], dtype=torch.float16)),
        ("half_strided", half2d[:, ::2]),                          # fp16, strides (4, 2)
        ("bf16", torch.tensor([1.0, -3.0e38, 1.5e-38, 0.0078125], dtype=torch.bfloat16)),
        ("double", torch.tensor([[0.1, -1e-10], [3.0, 1e30]], dtype=torch.float64)),
        ("int32", torch.tensor([-7, 0, 2 ** 20], dtype=torch.int32)),
        ("uint8", torch.tensor([0, 1, 255], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(3.5)),
        ("empty", torch.zeros(0, 3)),
    ])
    checkpoint = {
        "epoch": 7,
        "arch": "tinyconvnet",
        "state_dict": net.state_dict(),
        "extras": extras,
        "param": nn.Parameter(torch.tensor([0.5, -0.25])),          # _rebuild_parameter
        "history": [0.5, 0.25, None, (1, "a"), {"lr": 1e-3}],
        "big": 2 ** 70,                                              # LONG1 beyond 64 bits
    }
    path = os.path.join(out, "convnet.pth")
    torch.save(checkpoint, path)

    expected = OrderedDict()

    def add(prefix: str, tensors) -> None:
        for k, v in tensors.items():
            expected[f"{prefix}{k}"] = v

    add("state_dict.", net.state_dict())
    add("extras.", extras)
    expected["param"] = checkpoint["param"]
    dtype_names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                   torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}
    manifest = OrderedDict()
    for k, v in expected.items():
        v = v.detach()
        manifest[k] = {
            "dtype": dtype_names[v.dtype],
            "shape": list(v.shape),
            # float32 view of the values (what getF32 returns): exact for every entry here
            "values": v.float().flatten().tolist() if v.dtype != torch.bool else v.int().flatten().tolist(),
        }
    with open(os.path.join(out, "convnet.expected.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(CONFIGS), required=True)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--openai-dtype", choices=["f32", "f16", "bf16"], default="bf16",
                    help="storage dtype of clip_openai.safetensors (default bf16)")
    ap.add_argument("--no-verify", action="store_true", help="skip reading the PyTorch files back")
    args = ap.parse_args()

    cfg = CONFIGS[args.size]
    os.makedirs(os.path.join(args.out, "hf"), exist_ok=True)
    torch.manual_seed(args.seed)
    model = build_clip(cfg)
    init_random(model, seed=args.seed)
    sd = model.state_dict()

    def step(msg: str) -> None:
        print(f"[{args.size}] {msg}", flush=True)

    step("clip_state_dict.pt (torch.save)")
    p = os.path.join(args.out, "clip_state_dict.pt")
    torch.save(sd, p)
    if not args.no_verify:
        verify(p, sd, jit=False)

    step("clip_torchscript.pt (torch.jit)")
    p = os.path.join(args.out, "clip_torchscript.pt")
    save_torchscript(model, cfg, p)
    if not args.no_verify:
        verify(p, sd, jit=True)

    step(f"clip_openai.safetensors ({args.openai_dtype})")
    dt = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[args.openai_dtype]
    write_safetensors(os.path.join(args.out, "clip_openai.safetensors"),
                      OrderedDict((k, v.to(dt)) for k, v in sd.items()), {"format": "pt"})

    step("hf/model.safetensors + hf/config.json")
    write_safetensors(os.path.join(args.out, "hf", "model.safetensors"), to_hf_state_dict(sd, cfg), {"format": "pt"})
    with open(os.path.join(args.out, "hf", "config.json"), "w") as f:
        json.dump(hf_config(cfg), f, indent=2)
        f.write("\n")

    manifest = {
        "generator": "weights/make_test_weights.py",
        "size": args.size,
        "seed": args.seed,
        "config": {
            "embedDim": cfg.embed_dim,
            "vision": {"width": cfg.vision_width, "layers": cfg.vision_layers, "heads": cfg.vheads,
                       "patch": cfg.patch_size, "imageSize": cfg.image_size, "mlpWidth": cfg.mlp_ratio * cfg.vision_width},
            "text": {"width": cfg.text_width, "layers": cfg.text_layers, "heads": cfg.theads,
                     "contextLength": cfg.context_length, "vocabSize": cfg.vocab_size, "mlpWidth": cfg.mlp_ratio * cfg.text_width},
            "layerNormEps": 1e-05,
            "activation": "quick_gelu",
        },
        "parameters": sum(v.numel() for v in sd.values()),
        "tensors": OrderedDict((k, stats(v)) for k, v in sd.items()),
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    if args.size == "tiny":
        step("convnet.pth (generic torch.save checkpoint)")
        write_convnet(args.out, args.seed)
    step("done")


if __name__ == "__main__":
    main()
