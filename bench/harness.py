"""What every bench shares: the peak-memory sampler, and printing figures against targets as JSON.

`bench/out/<bench>.json` holds the latest result (figures, targets, verdicts, commit, load average,
cores), so two runs can be compared with `python bench/harness.py compare OLD.json NEW.json`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

OUT_DIR = Path(__file__).resolve().parent / "out"


def tree_rss_bytes(root: int) -> int:
    """RSS of a process and all its descendants, from /proc (Linux)."""
    total, stack = 0, [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


class PeakMemory(threading.Thread):
    """Samples the RSS of this process tree (Python, the Spark JVM, dbt) until stopped."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval, self.peak, self._halt = interval, 0, threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, tree_rss_bytes(os.getpid()))
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: float | None = None
    better: Literal["lower", "higher"] = "lower"

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.better == "lower" else self.value >= self.target

    def line(self) -> str:
        text = f"{self.name}: {self.value:,.1f} {self.unit}"
        if self.target is not None:
            sign = "<=" if self.better == "lower" else ">="
            text += f"  (target {sign} {self.target:,.0f} {self.unit}: {'met' if self.met else 'NOT met'})"
        return text


def _commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=OUT_DIR.parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def record(bench: str, figures: list[Figure], **context: object) -> Path:
    """Print the figures against their targets and write bench/out/<bench>.json; returns its path."""
    print(f"== {bench}: results")
    for figure in figures:
        print("  " + figure.line())
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{bench}.json"
    result = {
        "bench": bench,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "figures": [{**asdict(figure), "met": figure.met} for figure in figures],
        "context": context,
    }
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"  written {path.relative_to(OUT_DIR.parent.parent)}")
    return path


def compare(old_path: str, new_path: str) -> None:
    """Figure by figure: old, new, change, and the new verdict."""
    old, new = (json.loads(Path(p).read_text()) for p in (old_path, new_path))
    before = {figure["name"]: figure for figure in old["figures"]}
    print(f"{old['bench']}: {old.get('commit')} ({old['at']}) -> {new.get('commit')} ({new['at']})")
    for figure in new["figures"]:
        previous = before.get(figure["name"])
        change = ""
        if previous and previous["value"]:
            change = f"{(figure['value'] - previous['value']) / previous['value']:+.1%}"
        old_value = f"{previous['value']:,.1f}" if previous else "-"
        verdict = "" if figure["met"] is None else ("met" if figure["met"] else "NOT met")
        print(
            f"  {figure['name']:<40} {old_value:>12} -> {figure['value']:>12,.1f} {figure['unit']:<9} {change:>8} {verdict}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        print("usage: python bench/harness.py compare OLD.json NEW.json", file=sys.stderr)
        raise SystemExit(2)
