"""Day first or month first: the order of a timestamp column's day and month, read from ALL its values.

`02/10/2017` is 2 October in a pt-BR export and 10 February in a US one; no single value can tell. A column
can: a first field above 12 (`13/10/2017`) is a day, so the column is day first; a second field above 12
(`10/13/2017`) makes it month first. A column with both is mixed, and one with neither is ambiguous: both
are refused (one error naming the source file, the column, the rule and an example line) unless the user
declares the column's format (`--timestamp-format`, run config `timestamp_formats`). Values that already
start with the year (ISO, `2017-10-02 10:56`) are not in question and pass unchanged.

Every path that reads timestamps from user files (the Olist producer, the Olist batch bronze load) calls
`detect_timestamp_format` and writes the values it returns as ISO (`2017-10-02 10:56:00`), so silver never
has to guess. Pure Python, no Spark: the readers already hold each file's values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# <day or month><sep><day or month><same sep><4-digit year>[ or T<hour>:<minute>[:<second>]]
_DAY_MONTH = re.compile(
    r"\s*(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*", re.ASCII
)
DAY_FIRST, MONTH_FIRST, YEAR_FIRST, DECLARED = "day_first", "month_first", "year_first", "declared"
ALL_COLUMNS = "*"  # a declared format for every timestamp column of every file
_HOW_TO_DECLARE = (
    "declare the format, e.g. --timestamp-format '%d/%m/%Y %H:%M' (shopflow produce olist) or "
    "run config timestamp_formats: {'<table>': '%d/%m/%Y %H:%M'} (olist_bronze_batch)"
)


class TimestampFormatError(ValueError):
    """A timestamp column whose day/month order cannot be told, or that breaks its declared format."""


@dataclass(frozen=True)
class TimestampColumnFormat:
    """How one column's values are read: `order` is day_first, month_first, declared (`declared` holds the
    strptime format) or year_first (no value has its day and month before the year: nothing to convert)."""

    order: str
    declared: str | None = None

    def to_iso(self, value: str) -> str:
        """The value as `YYYY-MM-DD HH:MM:SS`, or unchanged when it is blank, already year first, or not a
        real date in this order (`31/02/2017`): silver then quarantines it as unparseable, with its reason."""
        if not value.strip() or self.order == YEAR_FIRST:
            return value
        if self.order == DECLARED:
            try:
                return dt.datetime.strptime(value.strip(), self.declared).isoformat(sep=" ")
            except ValueError:
                return value
        match = _DAY_MONTH.fullmatch(value)
        if not match:
            return value
        first, _, second, year, hour, minute, second_of_minute = match.groups()
        day, month = (first, second) if self.order == DAY_FIRST else (second, first)
        try:
            stamp = dt.datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second_of_minute or 0)
            )
        except ValueError:
            return value
        return stamp.isoformat(sep=" ")


def _year_first(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


def check_declared_format(declared: str) -> str:
    """`declared` if it is a strptime format that reads back a day, a month and a year; else ValueError."""
    sample = dt.datetime(2017, 10, 2, 10, 56, 33)
    try:
        back = dt.datetime.strptime(sample.strftime(declared), declared)
    except ValueError as exc:
        raise ValueError(f"timestamp format {declared!r} is not a strptime format: {exc}") from None
    if back.date() != sample.date():
        raise ValueError(f"timestamp format {declared!r} must hold the day (%d), month (%m) and year (%Y)")
    return declared


def detect_timestamp_format(
    values: Iterable[tuple[int, str]], *, source: str, column: str, declared: str | None = None
) -> TimestampColumnFormat:
    """The format of one column from ALL its (line, value) pairs, or TimestampFormatError naming `source`,
    `column`, the rule and the line of an example value.

    With `declared`, every non-blank value must fit it (or be year first). Without: day first when some
    first field exceeds 12, month first when some second field does, refused when both (mixed) or neither
    (ambiguous) do. A column whose values all start with the year needs no order.
    """
    if declared is not None:
        check_declared_format(declared)
        column_format = TimestampColumnFormat(DECLARED, declared)
        for line, value in values:
            if value.strip() and not _year_first(value) and column_format.to_iso(value) == value:
                raise TimestampFormatError(
                    f"{source}: column {column!r}, line {line}: {value!r} does not fit the declared "
                    f"timestamp format {declared!r}"
                )
        return column_format
    day_first = month_first = shaped = None
    for line, value in values:
        match = _DAY_MONTH.fullmatch(value)
        if not match:
            continue
        shaped = shaped or (line, value)
        first, second = int(match.group(1)), int(match.group(3))
        if first > 12 and day_first is None:
            day_first = (line, value)
        if second > 12 and month_first is None:
            month_first = (line, value)
    if day_first and month_first:
        raise TimestampFormatError(
            f"{source}: column {column!r} mixes day-first dates (line {day_first[0]}: {day_first[1]!r}, "
            f"first field above 12) and month-first dates (line {month_first[0]}: {month_first[1]!r}, second "
            f"field above 12); fix the file or {_HOW_TO_DECLARE}"
        )
    if day_first:
        return TimestampColumnFormat(DAY_FIRST)
    if month_first:
        return TimestampColumnFormat(MONTH_FIRST)
    if shaped:
        raise TimestampFormatError(
            f"{source}: column {column!r} is ambiguous: no value has a first field above 12 (day first) or a "
            f"second field above 12 (month first), so {shaped[1]!r} (line {shaped[0]}) could be either; "
            f"{_HOW_TO_DECLARE}"
        )
    return TimestampColumnFormat(YEAR_FIRST)


def declared_format(formats: Mapping[str, str] | None, *names: str) -> str | None:
    """The format declared for a file known by any of `names` (table, file name), else for every file."""
    formats = formats or {}
    for name in names:
        if name in formats:
            return formats[name]
    return formats.get(ALL_COLUMNS)


def parse_format_options(options: Iterable[str]) -> dict[str, str]:
    """CLI values `FORMAT` (every file) or `TABLE=FORMAT` -> {table or '*': format}, each format checked."""
    out: dict[str, str] = {}
    for option in options:
        name, sep, fmt = option.partition("=")
        if not sep or "%" in name:
            name, fmt = ALL_COLUMNS, option
        out[name.strip()] = check_declared_format(fmt)
    return out
