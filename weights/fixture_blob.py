"""Golden arrays packed into one binary file with a JSON index, as the TypeScript tests read them
(test/helpers/fixture-arrays.ts): each array little-endian, 8-byte aligned, indexed by its offset,
dtype and shape."""
from __future__ import annotations

import numpy as np

DTYPES = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.uint32): "u32", np.dtype(np.uint8): "u8", np.dtype(np.uint16): "u16"}


class Blob:
    """Arrays packed back to back (8-byte aligned) with their index entries."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, a: np.ndarray) -> dict:
        a = np.ascontiguousarray(a)
        dtype = DTYPES[a.dtype]
        pad = (-self.size) % 8
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        entry = {"offset": self.size, "dtype": dtype, "shape": list(a.shape)}
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        self.parts.append(raw)
        self.size += len(raw)
        return entry

    def bytes(self) -> bytes:
        return b"".join(self.parts)
