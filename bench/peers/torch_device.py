#!/usr/bin/env python3
"""PyTorch peer for bench/device.bench.ts: times the same problems on the same device kind (CUDA
where torch sees a GPU) in one process. Prints one JSON object as its last stdout line.

    python3 bench/peers/torch_device.py --probe
        {"torch": "2.4.0", "cuda_available": true, "cuda": "12.4", "device": "NVIDIA H100 80GB HBM3", ...}
    python3 bench/peers/torch_device.py --device cuda --cases cases.json
        {"torch": ..., "device": ..., "results": [{"id": ..., "cold_ms": ..., "warm_ms": [...], "gpu_ms": [...]}, ...]}

cases.json is a JSON list; each case has an "id" (echoed back), an "op" and "warm" (timed runs after
the cold one, at least 3 are asked for):
    {"op": "matmul", "m": M, "n": N, "k": K}                  C[M, N] = A[M, K] @ B[K, N], float32
    {"op": "deeplab", "weights": PATH, "height": H, "width": W, "classes": 21, "blocks": [3, 4, 23, 3]}
        torchvision's deeplabv3 on ResNet-50/101 ("blocks" picks which) with the torchvision-layout
        safetensors file PATH (read with numpy: the `safetensors` package is not needed), logits at
        the input size as seedmask's 'logits' output
A case that cannot run (torchvision missing, a shape torchvision cannot build) answers {"id", "error"}.

Timing: wall clock around each run with torch.cuda.synchronize() before and after (the seedmask side
likewise waits for the GPU), and the GPU time of the same run from CUDA events (`gpu_ms`). Float32
throughout with TF32 off (seedmask computes in float32; TF32 would trade 10 mantissa bits for
speed), so the two sides do the same arithmetic. The cold run includes cuBLAS/cuDNN initialisation
and kernel selection, as seedmask's cold run includes pipeline compilation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True


def probe() -> dict:
    try:
        import torch
    except Exception as err:  # noqa: BLE001 - any import failure means "no peer"
        return {"torch": None, "cuda_available": False, "error": f"import torch: {err}"}
    out = {"torch": torch.__version__, "cuda_available": bool(torch.cuda.is_available()), "cuda": torch.version.cuda,
           "python": sys.version.split()[0], "executable": sys.executable}
    if out["cuda_available"]:
        out["device"] = torch.cuda.get_device_name(0)
        out["cudnn"] = torch.backends.cudnn.version()
    try:
        import torchvision
        out["torchvision"] = torchvision.__version__
    except Exception:  # noqa: BLE001
        out["torchvision"] = None
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", action="store_true", help="print torch/CUDA versions and the device, and exit")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--cases", help="JSON file with the list of cases")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (cpu device only; 0: torch's default)")
    args = ap.parse_args()
    if args.probe:
        print(json.dumps(probe()))
        return
    if not args.cases:
        raise SystemExit("--cases FILE is required (or --probe)")

    import torch

    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("torch.cuda.is_available() is False: no CUDA peer")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = False
    elif args.threads > 0:
        torch.set_num_threads(args.threads)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def timed(fn) -> "tuple[float, float | None]":
        """One run: wall ms between two synchronisations, and the CUDA-event ms on a GPU."""
        sync()
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            t = time.perf_counter()
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return (time.perf_counter() - t) * 1e3, start.elapsed_time(end)
        t = time.perf_counter()
        fn()
        return (time.perf_counter() - t) * 1e3, None

    def measure(fn, warm: int) -> dict:
        cold, cold_gpu = timed(fn)
        walls, gpus = [], []
        for _ in range(max(3, warm)):
            w, g = timed(fn)
            walls.append(w)
            if g is not None:
                gpus.append(g)
        out = {"cold_ms": cold, "warm_ms": walls}
        if gpus:
            out["gpu_ms"] = gpus
            out["cold_gpu_ms"] = cold_gpu
        return out

    with open(args.cases, encoding="utf8") as f:
        cases = json.load(f)
    results = []
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for case in cases:
            cid, op, warm = case["id"], case["op"], int(case.get("warm", 3))
            try:
                if op == "matmul":
                    m, n, k = int(case["m"]), int(case["n"]), int(case["k"])
                    a = (torch.rand(m, k, generator=gen) * 2 - 1).to(device)
                    b = (torch.rand(k, n, generator=gen) * 2 - 1).to(device)
                    c = torch.empty(m, n, device=device)
                    r = measure(lambda: torch.matmul(a, b, out=c), warm)
                    del a, b, c
                elif op == "deeplab":
                    r = deeplab(case, device, gen, measure, warm)
                else:
                    r = {"error": f"unknown op '{op}'"}
            except Exception as err:  # noqa: BLE001 - one failing case must not hide the others
                r = {"error": f"{type(err).__name__}: {err}"}
            if device.type == "cuda":
                torch.cuda.empty_cache()
            results.append({"id": cid, **r})
    info = probe()
    print(json.dumps({**info, "peer_device": str(device), "tf32": False if device.type == "cuda" else None,
                      "threads": torch.get_num_threads(), "results": results}))


def deeplab(case: dict, device, gen, measure, warm: int) -> dict:
    import torch

    try:
        from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101
    except Exception as err:  # noqa: BLE001
        return {"error": f"torchvision is not importable: {err}"}
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_clip_vision import read_safetensors  # numpy reader, no `safetensors` package needed

    blocks = list(case.get("blocks", [3, 4, 23, 3]))
    make = {(3, 4, 6, 3): deeplabv3_resnet50, (3, 4, 23, 3): deeplabv3_resnet101}.get(tuple(blocks))
    if make is None:
        return {"error": f"torchvision builds ResNet-50/101 backbones only, not blocks {blocks}"}
    # No downloads: the weights are the case's random ones, so no pretrained backbone either.
    model = make(weights=None, weights_backbone=None, num_classes=int(case["classes"]), aux_loss=False)
    sd = read_safetensors(case["weights"])
    model.load_state_dict(sd, strict=False)  # strict=False: BatchNorm step counters are not in the file
    missing = [k for k in model.state_dict() if k not in sd and not k.endswith("num_batches_tracked")]
    if missing:
        return {"error": f"weights lack {len(missing)} torchvision keys, e.g. {missing[:3]}"}
    model = model.float().eval().to(device)
    x = torch.rand(1, 3, int(case["height"]), int(case["width"]), generator=gen).to(device)
    r = measure(lambda: model(x)["out"], warm)
    del model, x
    return r


if __name__ == "__main__":
    main()
