"""JSON arrays of row objects written straight from columns by one compiled loop.

A page of 1,000 ticks or 10,000 bars is written as bytes without Python row objects and without a kernel call
per column: the columns are laid out as a few numpy arrays (integers, floats, integer lists, strings), a
program says which field comes from which of them, and :func:`_write` walks the rows once.

Values follow the wire rules of :mod:`.shapes`: a field whose value is missing is left out of its object;
floats are written in a form that reads back as exactly the same double, integral ones without a fraction;
a list field is ``[]`` when missing (or left out, for ``list_or_absent``), a ``str`` field ``""``.
Anything the loop cannot write exactly (a float too small or too large for a plain decimal form, an
unexpected column type) makes :func:`rows_bytes` return None, and the caller shapes the rows another way.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from numba import njit

INT, FLOAT, LIST, LIST_OR_ABSENT, STR, OPT_STR, DECIMAL, RAW = range(8)
_KINDS = {
    "int": INT,
    "opt_int": INT,
    "num": FLOAT,
    "list": LIST,
    "list_or_absent": LIST_OR_ABSENT,
    "str": STR,
    "opt_str": OPT_STR,
    "decimal": DECIMAL,
    "empty": RAW,
}
_INT_CHARS = 20  # "-9223372036854775808"
_FLOAT_CHARS = 40  # sign, up to 16 integer digits, point, up to 17 decimals, margin
_POW10 = np.array([10.0**k for k in range(18)])
SPLIT_ROWS = 4000  # pages of at least this many rows are written in two halves, in parallel

Column = pa.Array | pa.ChunkedArray | np.ndarray


_DIGIT_PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), dtype=np.uint8).copy()
_U10 = np.array([10**k for k in range(20)], dtype=np.uint64)


@njit(cache=True, inline="always")
def _put_uint(out: np.ndarray, pos: int, u: np.uint64) -> int:
    digits = 17 if u >= _U10[16] else 9 if u >= _U10[8] else 1  # nanosecond stamps have 19 digits
    while digits < 20 and u >= _U10[digits]:
        digits += 1
    i = pos + digits
    while u >= 100:
        q = u // np.uint64(100)
        d = np.int64(u - q * np.uint64(100)) * 2
        out[i - 1] = _DIGIT_PAIRS[d + 1]
        out[i - 2] = _DIGIT_PAIRS[d]
        i -= 2
        u = q
    if u >= 10:
        d = np.int64(u) * 2
        out[i - 1] = _DIGIT_PAIRS[d + 1]
        out[i - 2] = _DIGIT_PAIRS[d]
    else:
        out[i - 1] = 48 + np.uint8(u)
    return pos + digits


@njit(cache=True, inline="always")
def _put_int(out: np.ndarray, pos: int, v: np.int64) -> int:
    if v < 0:
        out[pos] = 45  # -
        return _put_uint(out, pos + 1, np.uint64(-(v + 1)) + np.uint64(1))
    return _put_uint(out, pos, np.uint64(v))


@njit(cache=True, inline="always")
def _put_fixed(out: np.ndarray, pos: int, r: np.uint64, k: int) -> int:
    """``r·10^-k`` as ``whole.fraction`` without the fraction's trailing zeros (k >= 1, r not a multiple of
    10^k). Only divisions by constants: the digits of r are written, then the point is put among them."""
    while r % np.uint64(10) == 0:
        r //= np.uint64(10)
        k -= 1
    end = _put_uint(out, pos, r)
    digits = end - pos
    if digits > k:
        for i in range(end, end - k, -1):
            out[i] = out[i - 1]
        out[end - k] = 46  # .
        return end + 1
    shift = k - digits + 2  # "0." and the zeros after the point
    for i in range(end - 1, pos - 1, -1):
        out[i + shift] = out[i]
    out[pos] = 48
    out[pos + 1] = 46
    for i in range(pos + 2, pos + shift):
        out[i] = 48
    return end + shift


@njit(cache=True, inline="always")
def _put_micros(out: np.ndarray, pos: int, r: np.uint64) -> int:
    """``r·10^-6`` (not a whole number): the whole part, the point, six digits, then trailing zeros dropped."""
    million = np.uint64(1_000_000)
    whole = r // million
    frac = np.int64(r - whole * million)
    pos = _put_uint(out, pos, whole)
    out[pos] = 46  # .
    for i in range(3):
        pair = frac // 10_000 if i == 0 else (frac // 100) % 100 if i == 1 else frac % 100
        out[pos + 1 + 2 * i] = _DIGIT_PAIRS[2 * pair]
        out[pos + 2 + 2 * i] = _DIGIT_PAIRS[2 * pair + 1]
    end = pos + 7
    while out[end - 1] == 48:
        end -= 1
    return end


@njit(cache=True, inline="always")
def _put_float(out: np.ndarray, pos: int, v: float, pow10: np.ndarray) -> int:
    """Writes a finite ``v``; returns -1 when no plain decimal form of at most 17 decimals reads back as it.

    A decimal r·10^-k reads back as exactly v when r / 10^k == v (r and 10^k are exact doubles and IEEE
    division rounds correctly, as parsing does). Six decimals are tried first: they hold every price,
    volume and VWAP the feeds and bars carry; otherwise the shortest k that works is searched for.
    """
    if v < 0.0:
        out[pos] = 45
        pos += 1
        v = -v
    if v >= 9007199254740992.0:
        return -1
    if v == np.floor(v):
        return _put_uint(out, pos, np.uint64(v))
    m = v * 1e6
    if m < 9007199254740992.0:
        r = np.floor(m + 0.5)
        if r / 1e6 == v:
            return _put_micros(out, pos, np.uint64(r))
    for k in range(1, 18):
        m = v * pow10[k]
        if m >= 9007199254740992.0:
            return -1
        r = np.floor(m + 0.5)
        # A decimal that reads back as v leaves v·10^k within a few ulps of an integer: only then is the
        # exact test (a division) worth its cost.
        if abs(m - r) <= r * 1e-15 + 1e-300 and r / pow10[k] == v:
            return _put_fixed(out, pos, np.uint64(r), k)
    return -1


@njit(cache=True, inline="always")
def _put_bytes(out: np.ndarray, pos: int, src: np.ndarray, lo: int, hi: int) -> int:
    for i in range(lo, hi):
        out[pos] = src[i]
        pos += 1
    return pos


@njit(cache=True, inline="always")
def _put_string(out: np.ndarray, pos: int, src: np.ndarray, lo: int, hi: int) -> int:
    out[pos] = 34  # "
    pos += 1
    for i in range(lo, hi):
        b = src[i]
        if b == 34 or b == 92:
            out[pos] = 92
            out[pos + 1] = b
            pos += 2
        elif b < 32:
            out[pos] = 92
            out[pos + 1] = 117  # \u00XX
            out[pos + 2] = 48
            out[pos + 3] = 48
            hi_nibble = b >> 4
            lo_nibble = b & 15
            out[pos + 4] = 48 + hi_nibble
            out[pos + 5] = 48 + lo_nibble if lo_nibble < 10 else 87 + lo_nibble
            pos += 6
        else:
            out[pos] = b
            pos += 1
    out[pos] = 34
    return pos + 1


@njit(cache=True, nogil=True)
def _write(
    first_row: int,
    end_row: int,
    prog: np.ndarray,
    keys: np.ndarray,
    key_off: np.ndarray,
    ints: np.ndarray,
    int_ok: np.ndarray,
    floats: np.ndarray,
    list_values: np.ndarray,
    list_off: np.ndarray,
    list_ok: np.ndarray,
    text: np.ndarray,
    text_lo: np.ndarray,
    text_hi: np.ndarray,
    text_ok: np.ndarray,
    pow10: np.ndarray,
    out: np.ndarray,
) -> int:
    """The objects of rows [first_row, end_row), comma-separated, into ``out``; returns their length, or -1
    (see :func:`_put_float`). Releases the GIL: other requests go on, and a long page is written in parts
    on two threads."""
    pos = 0
    for r in range(first_row, end_row):
        if r > first_row:
            out[pos] = 44
            pos += 1
        out[pos] = 123  # {
        pos += 1
        first = True
        for f in range(prog.shape[0]):
            kind = prog[f, 0]
            slot = prog[f, 1]
            if kind in (INT, DECIMAL):
                if not int_ok[slot, r]:
                    continue
            elif kind == FLOAT:
                if np.isnan(floats[slot, r]):
                    continue
            elif kind == LIST_OR_ABSENT:
                if not list_ok[slot, r] or list_off[slot, r + 1] == list_off[slot, r]:
                    continue
            elif kind == OPT_STR and not text_ok[slot, r]:
                continue
            if not first:
                out[pos] = 44
                pos += 1
            first = False
            pos = _put_bytes(out, pos, keys, key_off[f], key_off[f + 1])
            if kind == INT:
                pos = _put_int(out, pos, ints[slot, r])
            elif kind == DECIMAL:
                out[pos] = 34
                pos = _put_int(out, pos + 1, ints[slot, r])
                out[pos] = 46
                out[pos + 1] = 48
                out[pos + 2] = 34
                pos += 3
            elif kind == FLOAT:
                v = floats[slot, r]
                if np.isinf(v):
                    for c in (110, 117, 108, 108):  # null, as orjson writes a non-finite float
                        out[pos] = c
                        pos += 1
                else:
                    pos = _put_float(out, pos, v, pow10)
                    if pos < 0:
                        return -1
            elif kind in (LIST, LIST_OR_ABSENT):
                out[pos] = 91
                pos += 1
                if list_ok[slot, r]:
                    for i in range(list_off[slot, r], list_off[slot, r + 1]):
                        if i > list_off[slot, r]:
                            out[pos] = 44
                            pos += 1
                        pos = _put_int(out, pos, list_values[i])
                out[pos] = 93
                pos += 1
            elif kind in (STR, OPT_STR):
                if text_ok[slot, r]:
                    pos = _put_string(out, pos, text, text_lo[slot, r], text_hi[slot, r])
                else:
                    out[pos] = 34
                    out[pos + 1] = 34
                    pos += 2
        out[pos] = 125  # }
        pos += 1
    return pos


def _valid(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=np.bool_)
    return np.asarray(arr.is_valid())


def _array(values: Column) -> pa.Array | np.ndarray:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def _integers(values: Column) -> tuple[np.ndarray, np.ndarray] | None:
    a = _array(values)
    if isinstance(a, np.ndarray):
        if a.dtype.kind in "iu":
            return a.astype(np.int64, copy=False), np.ones(len(a), dtype=np.bool_)
        return None
    if not pa.types.is_integer(a.type) or pa.types.is_uint64(a.type):
        return None
    ok = _valid(a)
    raw = a.to_numpy(zero_copy_only=False) if a.null_count == 0 else a.fill_null(0).to_numpy()
    return raw.astype(np.int64, copy=False), ok


def _floats(values: Column) -> np.ndarray | None:
    a = _array(values)
    if isinstance(a, np.ndarray):
        return a.astype(np.float64, copy=False) if a.dtype.kind in "fiu" else None
    if not (pa.types.is_floating(a.type) or pa.types.is_integer(a.type)):
        return None
    if a.null_count:
        return a.cast(pa.float64()).fill_null(float("nan")).to_numpy()
    return a.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _int_lists(values: Column) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(all values, offsets into them, present) of a list<int> column."""
    a = _array(values)
    if isinstance(a, np.ndarray) or not pa.types.is_list(a.type) or not pa.types.is_integer(a.type.value_type):
        return None
    child = a.values
    if child.null_count:
        return None
    offsets = np.asarray(a.offsets).astype(np.int64)
    return child.to_numpy(zero_copy_only=False).astype(np.int64, copy=False), offsets, _valid(a)


def _strings(values: Column) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(UTF-8 bytes, start and end of each row's text in them, present) of a string column, plain or
    dictionary-encoded (labels: each row points into the dictionary's bytes)."""
    a = _array(values)
    if isinstance(a, np.ndarray):
        return None
    if pa.types.is_dictionary(a.type):
        found = _strings(a.dictionary)
        if found is None or a.dictionary.null_count or not pa.types.is_integer(a.indices.type):
            return None
        data, lo, hi, _ = found
        if len(lo) == 0:  # an empty dictionary: every row is null
            nothing = np.zeros(len(a), dtype=np.int64)
            return data, nothing, nothing, _valid(a)
        codes = a.indices.fill_null(0).to_numpy().astype(np.intp) if a.null_count else a.indices.to_numpy()
        return data, lo[codes], hi[codes], _valid(a)
    if not (pa.types.is_string(a.type) or pa.types.is_large_string(a.type)):
        return None
    width = np.int64 if pa.types.is_large_string(a.type) else np.int32
    _, off_buf, data_buf = a.buffers()
    n = len(a)
    offsets = np.frombuffer(off_buf, dtype=width, count=a.offset + n + 1)[a.offset :].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, dtype=np.uint8)
    return data, offsets[:-1], offsets[1:], _valid(a)


def _stack(rows: list[np.ndarray], n: int, dtype: Any) -> np.ndarray:
    """One 2-D array of equally long columns (a placeholder row when there are none: numba wants 2-D)."""
    if not rows:
        return np.zeros((1, n), dtype=dtype)
    return np.ascontiguousarray(np.stack(rows))


Spec = Sequence[tuple[str, str, str]]


def rows_bytes(spec: Spec, columns: Mapping[str, Column], n: int) -> bytes | None:
    """The JSON array of ``n`` objects with the fields of ``spec`` — ``(key, column, kind)`` as in
    :mod:`.shapes` — from ``columns`` (Arrow or numpy, ``n`` long). None when some column cannot be
    written here."""
    if n == 0:
        return b"[]"
    prog: list[tuple[int, int]] = []
    key_bytes: list[bytes] = []
    ints: list[np.ndarray] = []
    int_ok: list[np.ndarray] = []
    floats: list[np.ndarray] = []
    lists: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    texts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    # The most bytes the array can take: its brackets; per row a brace pair and a comma; per field a comma,
    # the key and the longest value of its kind.
    width = 2 + 3 * n
    for key, col, kind_name in spec:
        kind = _KINDS[kind_name]
        prefix = orjson.dumps(key) + b":"
        if kind == RAW:  # the same text in every row: written with the key
            key_bytes.append(prefix + b'""')
            prog.append((RAW, 0))
            width += n * (1 + len(prefix) + 2)
            continue
        key_bytes.append(prefix)
        values = columns[col]
        if kind in (INT, DECIMAL):
            found = _integers(values)
            if found is None:
                return None
            prog.append((kind, len(ints)))
            ints.append(found[0])
            int_ok.append(found[1])
            width += n * (1 + len(prefix) + _INT_CHARS + 4)  # a decimal adds its quotes and ".0"
        elif kind == FLOAT:
            fl = _floats(values)
            if fl is None:
                return None
            prog.append((kind, len(floats)))
            floats.append(fl)
            width += n * (1 + len(prefix) + _FLOAT_CHARS)
        elif kind in (LIST, LIST_OR_ABSENT):
            found_list = _int_lists(values)
            if found_list is None:
                return None
            prog.append((kind, len(lists)))
            lists.append(found_list)
            used = int(found_list[1][-1] - found_list[1][0])
            width += n * (1 + len(prefix) + 2) + used * (_INT_CHARS + 1)
        else:
            found_text = _strings(values)
            if found_text is None:
                return None
            prog.append((kind, len(texts)))
            texts.append(found_text)
            longest = int((found_text[2] - found_text[1]).max())
            width += n * (1 + len(prefix) + 2 + longest * 6)  # a control character becomes \u00XX
    # Every list (string) column gets its own copy of the values (bytes) it indexes: offsets shift by the
    # length of those before it, so one array holds them all.
    list_values, list_off = _concat(lists, n)
    text, text_lo, text_hi = _texts(texts, n)
    key_off = np.zeros(len(key_bytes) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in key_bytes], out=key_off[1:])
    args = (
        np.array(prog, dtype=np.int64).reshape(-1, 2),
        np.frombuffer(b"".join(key_bytes), dtype=np.uint8),
        key_off,
        _stack(ints, n, np.int64),
        _stack(int_ok, n, np.bool_),
        _stack(floats, n, np.float64),
        list_values,
        list_off,
        _stack([ok for _, _, ok in lists], n, np.bool_),
        text,
        text_lo,
        text_hi,
        _stack([t[3] for t in texts], n, np.bool_),
        _POW10,
    )

    def part(lo: int, hi: int) -> np.ndarray | None:
        out = np.empty(width, dtype=np.uint8)  # each part's bound is the whole's: untouched pages cost nothing
        size = _write(lo, hi, *args, out)
        return None if size < 0 else out[:size]

    if n < SPLIT_ROWS:
        parts = [part(0, n)]
    else:  # the first half on a helper thread, the second here; the kernel holds no GIL
        half = n // 2
        first = _helper().submit(part, 0, half)
        second = part(half, n)
        parts = [first.result(), second]
    pieces: list[bytes | memoryview] = [b"["]
    for p in parts:
        if p is None:
            return None
        pieces += [memoryview(p), b","]
    pieces[-1] = b"]"
    return b"".join(pieces)


_HELPER: ThreadPoolExecutor | None = None
_HELPER_LOCK = threading.Lock()


def _helper() -> ThreadPoolExecutor:
    global _HELPER
    with _HELPER_LOCK:
        if _HELPER is None:
            _HELPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rowjson")
        return _HELPER


def _concat(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The values of every list column in one array, with each column's offsets shifted into it."""
    if not parts:
        return np.zeros(1, dtype=np.int64), np.zeros((1, n + 1), dtype=np.int64)
    values: list[np.ndarray] = []
    offsets: list[np.ndarray] = []
    base = 0
    for data, off, _ in parts:
        lo, hi = int(off[0]), int(off[-1])
        values.append(data[lo:hi])
        offsets.append(off - lo + base)
        base += hi - lo
    return np.concatenate(values).astype(np.int64, copy=False), np.ascontiguousarray(np.stack(offsets))


def _texts(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bytes of every string column in one array, with each column's row bounds shifted into it."""
    if not parts:
        empty = np.zeros((1, n), dtype=np.int64)
        return np.zeros(1, dtype=np.uint8), empty, empty
    data: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    base = 0
    for raw, lo, hi, _ in parts:
        first, last = (int(lo.min()), int(hi.max())) if len(lo) else (0, 0)
        data.append(raw[first:last])  # a page's slice of a day's column uses only part of its bytes
        starts.append(lo + (base - first))
        ends.append(hi + (base - first))
        base += last - first
    return np.concatenate(data), np.ascontiguousarray(np.stack(starts)), np.ascontiguousarray(np.stack(ends))


def warm_up() -> None:
    """Compile (or load from numba's on-disk cache) the writer, on a tiny input of every kind."""
    table = pa.table(
        {
            "i": pa.array([1, None], pa.int64()),
            "f": pa.array([1.5, None], pa.float64()),
            "l": pa.array([[1], None], pa.list_(pa.int64())),
            "s": pa.array(["a", None], pa.string()),
        }
    )
    spec = (("i", "i", "opt_int"), ("f", "f", "num"), ("l", "l", "list"), ("s", "s", "str"), ("d", "i", "decimal"))
    rows_bytes(spec, {c: table[c] for c in table.column_names}, 2)
