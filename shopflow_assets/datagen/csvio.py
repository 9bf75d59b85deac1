"""Vectorized CSV writing and formatting helpers shared by the generators (no Python loop per row).

Columns are Arrow string arrays; a whole file is built with Arrow compute kernels and written in
one buffer, which is what makes a million rows take well under a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UTF8_BOM = b"\xef\xbb\xbf"
_NEEDS_QUOTES = '[",\r\n]'


def lit(text: str) -> pa.Scalar:
    """A large_string scalar (Arrow kernels do not mix string and large_string inputs)."""
    return pa.scalar(text, pa.large_string())


def as_strings(values) -> pa.Array:
    """Any array-like (NumPy, list, Arrow) as an Arrow large_string array."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string())


def quote_field(column: pa.Array, *, always: bool = False) -> pa.Array:
    """RFC-4180 quoting: wrap in double quotes (doubling inner quotes) when needed, or always."""
    column = as_strings(column)
    needs = None
    if not always:
        needs = pc.match_substring_regex(column, _NEEDS_QUOTES)
        if not pc.any(needs).as_py():
            return column  # ids, numbers and timestamps: nothing to quote, skip the costly kernels
    quoted = pc.binary_join_element_wise(lit('"'), pc.replace_substring(column, '"', '""'), lit('"'), lit(""))
    return quoted if always else pc.if_else(needs, quoted, column)


def csv_bytes(
    columns: dict[str, pa.Array],
    *,
    quote_all: frozenset[str] = frozenset(),
    quote_header: bool = False,
) -> bytes:
    """The CSV text of the columns: a header row then one line per row, LF line ends.

    `quote_all` names columns whose every non-empty value is quoted (some real exports do that);
    empty values stay unquoted so they read as missing.
    """
    names = list(columns)
    header_fields = [f'"{name}"' if quote_header else name for name in names]
    fields = []
    for name in names:
        column = as_strings(columns[name]).fill_null("")
        if name in quote_all:
            column = pc.if_else(pc.equal(column, lit("")), column, quote_field(column, always=True))
        else:
            column = quote_field(column)
        fields.append(column)
    lines = pc.binary_join_element_wise(*fields, lit(","))
    lines = pc.binary_join_element_wise(lines, lit(""), lit("\n"))  # a trailing LF on every line
    lines = as_strings(lines)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    body = lines.buffers()[2].to_pybytes()[start:end] if len(lines) else b""
    return (",".join(header_fields) + "\n").encode() + body


def write_csv(
    path: Path,
    columns: dict[str, pa.Array],
    *,
    bom: bool = False,
    quote_all: frozenset[str] = frozenset(),
    quote_header: bool = False,
) -> int:
    """Write the columns as CSV to `path` (atomically: a temp file then rename); return the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as handle:
        if bom:
            handle.write(UTF8_BOM)
        handle.write(csv_bytes(columns, quote_all=quote_all, quote_header=quote_header))
    tmp.replace(path)
    return len(next(iter(columns.values()))) if columns else 0


def money(cents: np.ndarray) -> pa.Array:
    """Integer cents -> '12.50' / '-3.05' strings."""
    cents = np.asarray(cents, dtype=np.int64)
    magnitude = np.abs(cents)
    units = pa.array(magnitude // 100).cast(pa.large_string())
    hundredths = pc.utf8_lpad(pa.array(magnitude % 100).cast(pa.large_string()), 2, "0")
    text = pc.binary_join_element_wise(units, hundredths, lit("."))
    sign = pc.if_else(pa.array(cents < 0), lit("-"), lit(""))
    return as_strings(pc.binary_join_element_wise(sign, text, lit("")))


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int = 0) -> pa.Array:
    """'usr' + 123 -> 'usr123'; with width, zero-padded ('ord20240101' + 00042)."""
    digits = pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.large_string())
    if width:
        digits = pc.utf8_lpad(digits, width, "0")
    return as_strings(pc.binary_join_element_wise(lit(prefix), digits, lit("")))


def iso_utc(epoch_seconds: np.ndarray, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> pa.Array:
    """Epoch seconds -> formatted UTC timestamps ('2024-01-01T13:45:12Z' by default)."""
    seconds = np.asarray(epoch_seconds, dtype="int64")
    # strftime is the slow kernel: format each distinct second once (events and orders share seconds)
    distinct, position = np.unique(seconds, return_inverse=True)
    text = as_strings(pc.strftime(pa.array(distinct.astype("datetime64[s]")), fmt))
    return as_strings(pc.take(text, pa.array(position.reshape(-1))))


def replace_at(column: pa.Array, rows: np.ndarray, values) -> pa.Array:
    """A copy of `column` with `values` at positions `rows` (used to inject dirty values)."""
    column = as_strings(column)
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return column
    order = np.argsort(rows, kind="stable")
    mask = np.zeros(len(column), dtype=bool)
    mask[rows] = True
    replacements = as_strings(pa.array(np.asarray(values, dtype=object)[order].tolist(), pa.large_string()))
    return as_strings(pc.replace_with_mask(column, pa.array(mask), replacements))


def take(column: pa.Array, indices: np.ndarray) -> pa.Array:
    return as_strings(pc.take(as_strings(column), pa.array(np.asarray(indices, dtype=np.int64))))
