"""Names that come from run config, the command line or the environment and end up in SQL, paths or
dbt vars: validated against a strict pattern, and quoted wherever they meet a SQL text.

A key prefix or namespace is one or more path segments of letters, digits, `_` and `-`, separated by
`/` (`_tests/3f2a`); a table name is letters, digits and `_`. Anything else (quotes, semicolons, spaces,
`..`) is refused with an error naming the setting and the rule, before any statement is built.
"""

from __future__ import annotations

import re

PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,7}")
TABLE_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class UnsafeNameError(ValueError):
    """A name from configuration does not match its strict pattern."""


def safe_prefix(value: str, setting: str) -> str:
    """`value` without surrounding slashes, or UnsafeNameError naming `setting`. Empty stays empty."""
    stripped = value.strip("/")
    if stripped and not PREFIX_PATTERN.fullmatch(stripped):
        raise UnsafeNameError(
            f"{setting} {value!r} is not allowed: use path segments of letters, digits, '_' and '-' "
            "separated by '/' (at most 8 segments of 64 characters)"
        )
    return stripped


def safe_table(value: str, setting: str) -> str:
    if not TABLE_PATTERN.fullmatch(value):
        raise UnsafeNameError(
            f"{setting} {value!r} is not allowed: a table name is letters, digits and '_', not starting "
            "with a digit (at most 128 characters)"
        )
    return value


def quote_identifier(name: str) -> str:
    """A SQL identifier in double quotes (DuckDB, PostgreSQL, Spark SQL with ANSI quoting)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A SQL string literal in single quotes."""
    return "'" + value.replace("'", "''") + "'"
