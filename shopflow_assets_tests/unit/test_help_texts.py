"""Help texts and docs speak to users: no internal jargon such as `seed-000` (the name of a generator's
reference spec) where a user reads what a command sends."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from shopflow_assets.cli import build_parser

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
JARGON = re.compile(r"seed[-_ ]?0\d\d", re.IGNORECASE)


def _all_help(parser: argparse.ArgumentParser) -> str:
    """The help of a parser and of every sub-command under it, and each sub-command's one-line help."""
    texts = [parser.format_help()]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            texts += [choice.help or "" for choice in action._choices_actions]
            texts += [_all_help(sub) for sub in action.choices.values()]
    return "\n".join(texts)


def test_no_help_text_names_events_by_a_generator_spec():
    text = _all_help(build_parser())
    assert "produce" in text and "click events" in text
    assert not JARGON.findall(text)


def test_no_doc_names_events_by_a_generator_spec():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = [f"{page.name}: {m.group()}" for page in pages for m in JARGON.finditer(page.read_text())]
    assert not found
