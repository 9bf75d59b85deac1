"""The Olist CSV folder as an input: which files a flow expects, checked before anything runs, and reading
a file the way real exports come (UTF-8 BOM, CRLF line ends, thousands of blank `,,,,` rows).

Both the Kafka producer (`shopflow produce olist`) and the marketplace batch bronze load call
`check_olist_folder`, so a folder without a file fails the same way everywhere: one message listing the
files expected and the ones missing. Reviews and geolocation are optional: without them a warning is
given and the flows run with those tables empty.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shopflow_assets.datagen.olist import (
    CUSTOMERS,
    GEOLOCATION,
    ORDER_ITEMS,
    ORDERS,
    PAYMENTS,
    PRODUCTS,
    REVIEWS,
    SELLERS,
    TRANSLATION,
)

log = logging.getLogger(__name__)

OPTIONAL_FILES = frozenset({REVIEWS, GEOLOCATION})
# The file of each streamed table (the producer's table names).
STREAMED_FILES = {
    "customers": CUSTOMERS,
    "sellers": SELLERS,
    "products": PRODUCTS,
    "orders": ORDERS,
    "order_items": ORDER_ITEMS,
}
BATCH_FILES = (PAYMENTS, REVIEWS, GEOLOCATION, TRANSLATION)


class OlistSourceError(RuntimeError):
    """An Olist CSV folder lacks a file a flow needs."""


@dataclass(frozen=True)
class OlistFolderCheck:
    folder: Path
    expected: tuple[str, ...]
    missing_optional: tuple[str, ...]

    def present(self, name: str) -> bool:
        return name in self.expected and name not in self.missing_optional

    def warning(self) -> str | None:
        if not self.missing_optional:
            return None
        return (
            f"Olist folder {self.folder}: optional files missing: {', '.join(self.missing_optional)}; "
            "their tables stay empty and gold is computed without them"
        )


def check_olist_folder(folder: Path, expected: Iterable[str]) -> OlistFolderCheck:
    """Check that `folder` holds the `expected` files. A missing required file (or folder) raises one
    OlistSourceError naming the files expected and the ones missing; missing optional files are logged
    as a warning and reported in the result."""
    folder = Path(folder)
    expected = tuple(expected)
    missing = tuple(name for name in expected if not (folder / name).is_file())
    required_missing = [name for name in missing if name not in OPTIONAL_FILES]
    if not folder.is_dir() or required_missing:
        what = "does not exist" if not folder.is_dir() else f"lacks {', '.join(required_missing)}"
        optional = sorted(OPTIONAL_FILES & set(expected))
        raise OlistSourceError(
            f"Olist folder {folder} {what}; expected {', '.join(expected)}"
            + (f" ({', '.join(optional)} optional)" if optional else "")
            + "; run `shopflow generate olist` or point at the Kaggle folder"
        )
    check = OlistFolderCheck(folder, expected, tuple(name for name in missing if name in OPTIONAL_FILES))
    if check.warning():
        log.warning(check.warning())
    return check


@dataclass
class OlistCsv:
    """The rows of one Olist CSV as strings, and what was not a row: blank rows (every field empty, as
    spreadsheet tools append by the thousand) and malformed ones (more or fewer fields than the header),
    the latter by line number."""

    rows: list[dict]
    blank_rows: int = 0
    malformed_lines: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the physical line each row of `rows` ends on

    def normalize_timestamps(self, source: Path, columns: Iterable[str], declared: str | None = None) -> None:
        """Rewrite each timestamp column as ISO after detecting its day/month order from all its values
        (`shopflow_assets.timestamp_formats`); an ambiguous or mixed column raises TimestampFormatError
        naming the file, the column and the rule, unless `declared` gives its format."""
        from shopflow_assets.timestamp_formats import detect_timestamp_format

        for column in columns:
            values = [(line, row.get(column) or "") for line, row in zip(self.lines, self.rows, strict=True)]
            found = detect_timestamp_format(values, source=str(source), column=column, declared=declared)
            for row in self.rows:
                if row.get(column):
                    row[column] = found.to_iso(row[column])


def read_olist_csv(path: Path) -> OlistCsv:
    """Read with the csv module (quoted fields may hold CR/LF; BOM and CRLF handled): one pass, linear."""
    import csv

    out = OlistCsv([])
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        for fields in reader:
            if not any(value.strip() for value in fields):
                out.blank_rows += 1
            elif len(fields) != len(header):
                out.malformed_lines.append(reader.line_num)
            else:
                out.rows.append(dict(zip(header, fields, strict=True)))
                out.lines.append(reader.line_num)
    if out.malformed_lines:
        log.warning(
            "%s: %d rows with more or fewer fields than the header skipped (lines %s)",
            path,
            len(out.malformed_lines),
            ", ".join(map(str, out.malformed_lines[:10])) + (" ..." if len(out.malformed_lines) > 10 else ""),
        )
    return out
