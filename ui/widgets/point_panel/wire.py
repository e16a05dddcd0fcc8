"""The wire format (wire.mjs reads it): one binary message a panel, a uint32 header length, the JSON header (the
contract, each array's type, offset and count, a digest of the whole), then the arrays; and the selection a group's
overlay carries (rows, or a bit field when many)."""
from __future__ import annotations

import base64
import hashlib
import json

import numpy as np

from ...figures import plots
from .contract import CONTRACT

TYPES = {"u8": np.uint8, "u16": np.uint16, "i32": np.int32, "f32": np.float32}
_KINDS = {np.dtype(dtype): kind for kind, dtype in TYPES.items()}


def payload(header: dict, arrays: dict) -> bytes:
    """The binary message: a uint32 header length, the JSON header, then the body from the next multiple of 4,
    each array at a multiple of 4 bytes. Each array's type is one the contract declares for it."""
    arrays = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    header = {**header, "contract": CONTRACT}
    digest = hashlib.sha1(json.dumps(header, sort_keys=True, default=float).encode())
    layout, offset = [], 0
    for name, a in arrays.items():
        kind, declared = _KINDS.get(a.dtype), CONTRACT["arrays"][name]
        if kind not in declared:
            raise TypeError(f"the point panel's array {name} is {a.dtype}: the contract says {declared}")
        digest.update(name.encode() + a.dtype.str.encode() + a.tobytes())
        layout.append([name, kind, offset, int(a.size)])
        offset = _aligned(offset + a.nbytes)
    text = json.dumps({**header, "digest": digest.hexdigest(), "arrays": layout}, default=float,
                      separators=(",", ":")).encode()  # compact: the palette alone is 256 entries
    base = _aligned(4 + len(text))
    out = bytearray(base + offset)
    out[:4] = len(text).to_bytes(4, "little")
    out[4:4 + len(text)] = text
    for (_, _, at, _), a in zip(layout, arrays.values()):
        out[base + at:base + at + a.nbytes] = a.tobytes()
    return bytes(out)


def _aligned(n: int) -> int:
    align = CONTRACT["align"]
    return (n + align - 1) // align * align


def read_payload(data: bytes) -> tuple[dict, dict]:
    """(header, arrays) of a payload, as the browser reads it."""
    length = int.from_bytes(data[:4], "little")
    header, base = json.loads(data[4:4 + length]), _aligned(4 + length)
    arrays = {name: np.frombuffer(data, TYPES[kind], count, base + offset)
              for name, kind, offset, count in header["arrays"]}
    if header.get(CONTRACT["in_order"]):  # not sent: row i on cell i
        arrays["cell"] = np.arange(header["n"], dtype=np.int32)
    if header.get(CONTRACT["codes_from_values"]):  # not sent: made of the values
        arrays["codes"] = plots.continuous_codes(arrays["values"], header["colorbar"]["low"], header["colorbar"]["high"])
    return header, arrays


def positions(header: dict, arrays: dict) -> tuple[np.ndarray, np.ndarray]:
    """The coordinates (float64) of the rows a panel draws, as the browser computes them from its message: a
    scatter's from its uint16 steps, a grid's from its cells' columns and rows (row i on cell i when in order)."""
    if header["kind"] == "grid":
        g = header["grid"]
        cell = np.arange(header["n"]) if header.get(CONTRACT["in_order"]) else arrays["cell"]
        row, column = np.divmod(np.asarray(cell, np.int64), g["nx"])
        return g["x0"] + column * g["dx"], g["y0"] + row * g["dy"]
    levels = CONTRACT["levels"]
    (x0, x1), (y0, y1) = header["x_range"], header["y_range"]
    return (x0 + np.asarray(arrays["qx"], np.float64) * ((x1 - x0) / levels),
            y0 + np.asarray(arrays["qy"], np.float64) * ((y1 - y0) / levels))


def selection_message(n: int, chosen: np.ndarray) -> dict:
    """The chosen rows among `n` as an overlay carries them: their positions when few, else a bit field in the
    contract's bit order (base64)."""
    if len(chosen) <= max(64, n // 32):
        return {"rows": chosen.tolist()}
    mask = np.zeros(n, bool)
    mask[chosen] = True
    bits = np.packbits(mask, bitorder=CONTRACT["mask_bit_order"]).tobytes()
    return {"bits": base64.b64encode(bits).decode(), "bit_order": CONTRACT["mask_bit_order"]}
