"""What every native service provides, and the progress reporter that prints each phase with its timing."""

from __future__ import annotations

import abc
import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from shopflow_assets.devstack.health import ServiceUnavailableError
from shopflow_assets.devstack.process import LaunchSpec
from shopflow_assets.settings import Settings


class DevstackError(RuntimeError):
    """A service could not be prepared, started or stopped; the message says which and why."""


@dataclass
class Reporter:
    """Prints `service  phase  seconds` lines (with a spinner while a phase runs) and keeps the timings."""

    console: Console | None = field(default_factory=lambda: Console(stderr=True))
    timings: list[tuple[str, str, float]] = field(default_factory=list)

    @contextlib.contextmanager
    def phase(
        self, service: str, what: str, started: float | None = None, announce: bool = False
    ) -> Iterator[Callable[[str], None]]:
        """Time a phase; `started` (a time.monotonic() value) when it began before the block.

        `announce` prints the phase when it starts too, for long ones, where no spinner shows it.
        """
        started = time.monotonic() if started is None else started
        status = None
        if self.console is not None and self.console.is_terminal:
            status = self.console.status(f"[bold]{service}[/] {what}")
            status.start()
        elif announce:  # no spinner in CI logs: say what the next minutes are spent on
            self.say(service, f"{what} ...")

        def update(detail: str) -> None:
            if status is not None:
                status.update(f"[bold]{service}[/] {what}: {detail[-100:]}")

        try:
            yield update
        finally:
            if status is not None:
                status.stop()
        self.record(service, what, time.monotonic() - started)

    def record(self, service: str, what: str, seconds: float) -> None:
        self.timings.append((service, what, seconds))
        self.say(service, f"{what:<34} {seconds:6.1f}s")

    def say(self, service: str, text: str) -> None:
        if self.console is not None:
            self.console.print(f"  [bold]{service:<9}[/] {text}", highlight=False)


def quiet_reporter() -> Reporter:
    return Reporter(console=None)


def run_logged(
    argv: Sequence[str],
    log_file: Path,
    update: Callable[[str], None] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    what: str = "",
    **popen_kwargs,
) -> None:
    """Run a command to completion, appending its output to `log_file` and showing its latest line.

    On failure the error names the step and quotes the end of the log, so nobody has to go looking.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n")
        log.flush()
        process = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=cwd,
            **popen_kwargs,
        )
        assert process.stdout is not None
        last_lines: list[str] = []
        for line in process.stdout:
            log.write(line)
            last_lines = [*last_lines[-19:], line.rstrip()]
            if update is not None and line.strip():
                update(line.strip())
        code = process.wait()
    if code != 0:
        quoted = "\n    ".join(last_lines[-12:])
        raise DevstackError(f"{what or argv[0]} failed (exit {code}); full log: {log_file}\n    {quoted}")


class NativeService(abc.ABC):
    """One service run as a local process: prepared once, started detached, checked, stopped cleanly."""

    name: str  # CLI name, file names: "kafka"
    title: str  # in messages: "Kafka"
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 30.0
    start_timeout: float = 90.0

    # --- paths ------------------------------------------------------------------------------------
    def data_dir(self, settings: Settings) -> Path:
        return settings.services_dir / self.name

    def pid_file(self, settings: Settings) -> Path:
        return settings.services_dir / f"{self.name}.pid"

    def log_file(self, settings: Settings) -> Path:
        return settings.logs_dir / f"{self.name}.log"

    # --- what each service defines ----------------------------------------------------------------
    @abc.abstractmethod
    def address(self, settings: Settings) -> str:
        """Where clients reach it, as shown by `status`."""

    @abc.abstractmethod
    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        """Every (host, port) it listens on, checked for conflicts before starting."""

    @abc.abstractmethod
    def prepare(self, settings: Settings, reporter: Reporter) -> None:
        """Download/build/initialise what the process needs; idempotent and fast when already done."""

    @abc.abstractmethod
    def launch_spec(self, settings: Settings) -> LaunchSpec:
        """The long-running process."""

    @abc.abstractmethod
    def check(self, settings: Settings, timeout: float = 3.0) -> None:
        """Raise ServiceUnavailableError unless the service answers a real request."""

    def ready(self, settings: Settings) -> bool:
        """Up enough for `after_start` (by default: healthy)."""
        try:
            self.check(settings, timeout=2.0)
        except ServiceUnavailableError:
            return False
        return True

    def after_start(self, settings: Settings, reporter: Reporter) -> None:  # noqa: B027 - optional hook
        """Work that needs the running service (buckets, roles); idempotent."""

    def status_note(self, settings: Settings) -> str:
        """A warning `status` shows for a healthy service (e.g. a setting it could not apply); "" if none."""
        return ""
