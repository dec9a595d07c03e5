"""Arrow columns laid out from Python values directly in their buffers.

pyarrow's conversion of a Python list first asks pandas whether the list is a pandas object, which
imports pandas (a quarter of a second, longer than a short backtest). The artifacts hold only int64,
float64 and string columns, whose Arrow layout is simple: a validity bitmap (bit i set = row i is not
null, least significant bit first), and little-endian values, or int32 offsets into UTF-8 bytes.
The arrays are the same as ``pa.array(values, type=...)`` would build.
"""

from __future__ import annotations

import array
import sys
from typing import Any

import pyarrow as pa

_NATIVE = sys.byteorder == "little" and array.array("i").itemsize == 4


def _validity(values: list[Any]) -> tuple[pa.Buffer | None, int]:
    nulls = sum(1 for v in values if v is None)
    if not nulls:
        return None, 0
    bits = bytearray((len(values) + 7) // 8)
    for i, v in enumerate(values):
        if v is not None:
            bits[i >> 3] |= 1 << (i & 7)
    return pa.py_buffer(bytes(bits)), nulls


def _int(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"an int64 column got {v!r}")
    return v


def _float(v: Any) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(f"a float64 column got {v!r}")
    return float(v)


def _strings(values: list[Any]) -> tuple[pa.Buffer, pa.Buffer]:
    offsets = array.array("i", [0])
    chunks: list[bytes] = []
    end = 0
    for v in values:
        if v is not None:
            if not isinstance(v, str):
                raise TypeError(f"a string column got {v!r}")
            raw = v.encode("utf-8")
            chunks.append(raw)
            end += len(raw)
        offsets.append(end)
    if end >= 2**31:
        raise OverflowError("a string column over 2 GiB")
    return pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(chunks))


def column(values: list[Any], type_: pa.DataType) -> pa.Array:
    """An Arrow array of ``type_`` (int64, float64 or string) holding ``values`` (None = null)."""
    if not _NATIVE:
        return pa.array(values, type=type_)
    validity, nulls = _validity(values)
    n = len(values)
    if type_ == pa.int64():
        data = array.array("q", [_int(v) for v in values])
        return pa.Array.from_buffers(type_, n, [validity, pa.py_buffer(data.tobytes())], null_count=nulls)
    if type_ == pa.float64():
        data = array.array("d", [_float(v) for v in values])
        return pa.Array.from_buffers(type_, n, [validity, pa.py_buffer(data.tobytes())], null_count=nulls)
    if type_ == pa.string():
        offsets, data = _strings(values)
        return pa.Array.from_buffers(type_, n, [validity, offsets, data], null_count=nulls)
    return pa.array(values, type=type_)
