"""Time to load the code location: `python -c "import shopflow_assets.definitions"` in fresh processes
(target: 3 s on an idle machine). Every run, sensor tick and webserver start pays it.

Usage: uv run python bench/bench_import.py [--runs 5]

Prints each run's wall and CPU time and their min / median / max. On the shared 2-core machine the wall
time grows with the load average (recorded with the figures); the CPU time much less.
The dbt manifest and the prepared dbt specs must exist (`uv run shopflow dbt-prepare`).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import Figure, record

TARGET_SECONDS = 3.0
ROOT = Path(__file__).resolve().parent.parent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_once() -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh interpreter importing the definitions."""
    cpu, started = _children_cpu(), time.perf_counter()
    subprocess.run(
        [sys.executable, "-W", "ignore", "-c", "import shopflow_assets.definitions"],
        cwd=ROOT,
        check=True,
    )
    return time.perf_counter() - started, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    load_once()  # not counted: the first start after a change also writes bytecode
    walls, cpus = [], []
    for run in range(1, args.runs + 1):
        wall, cpu = load_once()
        walls.append(wall)
        cpus.append(cpu)
        print(f"  run {run}: {wall:.2f} s wall, {cpu:.2f} s CPU")
    for label, values in (("wall", walls), ("CPU", cpus)):
        print(
            f"  {label}: min {min(values):.2f} s, median {statistics.median(values):.2f} s, max {max(values):.2f} s"
        )
    record(
        "import",
        [
            Figure("import definitions, median wall", statistics.median(walls), "s", TARGET_SECONDS),
            Figure("import definitions, min wall", min(walls), "s"),
            Figure("import definitions, max wall", max(walls), "s"),
            Figure("import definitions, median CPU", statistics.median(cpus), "s"),
        ],
        runs=args.runs,
        walls=[round(w, 3) for w in walls],
        cpus=[round(c, 3) for c in cpus],
    )


if __name__ == "__main__":
    main()
