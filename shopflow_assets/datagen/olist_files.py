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
from dataclasses import dataclass
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


def read_olist_csv(path: Path) -> tuple[list[dict], int]:
    """The rows of one Olist CSV as strings, and how many blank rows (every field empty, as spreadsheet
    tools append by the thousand) were skipped. One vectorized pass: linear in the file size."""
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if frame.empty:
        return [], 0
    blank = frame.apply(lambda column: column.str.strip().eq("")).all(axis=1)
    return frame[~blank].to_dict("records"), int(blank.sum())
