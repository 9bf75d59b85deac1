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
# Kafka's own rule for a topic name; a comma would make Spark's `subscribe` read a second topic.
TOPIC_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,249}")
# First key segments of the production layouts (lakehouse bronze/, silver/, rainforest/, fact_page_views;
# quarantine marketplace/, dead_letter/; events user_actions/; checkpoints clickstream/, events/,
# marketplace/; erp/): a namespace starting with one would put its copy on another flow's production
# tables (marketplace namespace "rainforest" -> lakehouse/rainforest/bronze/orders).
PRODUCTION_ROOTS = frozenset(
    {
        "bronze",
        "silver",
        "gold",
        "rainforest",
        "fact_page_views",
        "marketplace",
        "dead_letter",
        "user_actions",
        "clickstream",
        "events",
        "erp",
        "shop",
    }
)


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


def safe_namespace(value: str, setting: str) -> str:
    """A namespace (a whole copy of a flow's lake under <bucket>/<namespace>/): a safe prefix whose first
    segment is none of PRODUCTION_ROOTS, so no namespace resolves to another flow's production tables."""
    stripped = safe_prefix(value, setting)
    root = stripped.split("/", 1)[0]
    if root.lower() in PRODUCTION_ROOTS:
        raise UnsafeNameError(
            f"{setting} {value!r} is not allowed: its first segment {root!r} is where production tables "
            f"live ({', '.join(sorted(PRODUCTION_ROOTS))}); use another, e.g. _tests/<id>"
        )
    return stripped


def safe_topic(value: str, setting: str) -> str:
    """A Kafka topic name (letters, digits, '.', '_', '-'), or UnsafeNameError naming `setting`."""
    if not TOPIC_PATTERN.fullmatch(value):
        raise UnsafeNameError(
            f"{setting} {value!r} is not allowed: a Kafka topic is 1-249 letters, digits, '.', '_' and '-' "
            "(a comma would subscribe to a second topic)"
        )
    return value


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
