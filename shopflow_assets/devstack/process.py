"""Detached service processes: start with a pid file and a log file, find, stop, and sweep leftovers.

A process belongs to a stack when its command line points into that stack's `services_dir`: that is how a
pid file is trusted (a recycled pid of an unrelated program is not ours) and how `down` finds leftovers.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Popen objects of services this Python process started, kept so that they are reaped (no zombies, no
# "subprocess still running" warnings) when the API is used in-process, e.g. by tests and benchmarks.
_CHILDREN: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class LaunchSpec:
    """How to run one service process."""

    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    # Run as this system user (PostgreSQL refuses to run as root); None = the current user.
    user: str | None = None


def read_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_running(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself contain spaces or parentheses.
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def points_into(cmdline: Sequence[str], directory: Path) -> bool:
    prefix = str(directory).rstrip("/") + "/"
    return any(prefix in part or part == prefix[:-1] for part in cmdline)


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def owned_pid(pid_file: Path, owner_dir: Path) -> int | None:
    """The pid recorded in `pid_file` if that process is alive and runs out of `owner_dir`."""
    pid = read_pid(pid_file)
    if pid is None or not is_running(pid) or not points_into(read_cmdline(pid), owner_dir):
        return None
    return pid


# A service log larger than this is moved to `<name>.log.1` when the service starts (one generation kept).
LOG_ROTATE_BYTES = 50 * 1024 * 1024


def rotate_if_large(log_file: Path, limit: int = LOG_ROTATE_BYTES) -> bool:
    if log_file.exists() and log_file.stat().st_size > limit:
        log_file.replace(log_file.with_name(log_file.name + ".1"))
        return True
    return False


@functools.cache
def _default_signals_prefix() -> tuple[str, ...]:
    """`env --default-signal` where coreutils has it: a service started from a shell or CI runner that ignores
    SIGTERM would inherit the ignore (the JVM then installs no shutdown handler) and `down` could only kill it."""
    env = shutil.which("env")
    if env is None:
        return ()
    probe = subprocess.run([env, "--default-signal=HUP,INT,TERM", "true"], capture_output=True)
    return (env, "--default-signal=HUP,INT,TERM") if probe.returncode == 0 else ()


def spawn(spec: LaunchSpec, log_file: Path, pid_file: Path) -> int:
    """Start a process detached from this session (it outlives the CLI), logging to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    rotate_if_large(log_file)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **spec.env}
    with log_file.open("ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(spec.argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            [*_default_signals_prefix(), *spec.argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=spec.cwd,
            env=env,
            start_new_session=True,
            **run_as_kwargs(spec.user),
        )
    _CHILDREN[process.pid] = process
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def run_as_kwargs(user: str | None) -> dict:
    """subprocess keyword arguments that drop to `user` (only meaningful when running as root)."""
    if user is None or os.geteuid() != 0:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def _reap(pid: int) -> None:
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        with contextlib.suppress(Exception):
            child.wait(timeout=0)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_running(pid):
            return True
        time.sleep(0.1)
    _reap(pid)
    return not is_running(pid)


def stop(pid: int, graceful_signal: int = signal.SIGTERM, timeout: float = 30.0) -> str:
    """Ask a process to stop, wait up to `timeout` seconds, then kill it. Returns how it ended."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, graceful_signal)
    if wait_gone(pid, timeout):
        return "stopped"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_gone(pid, 5.0)
    return "killed"


def processes_in(directory: Path) -> list[tuple[int, list[str]]]:
    """Live processes whose command line points into `directory` (this process and its parents excluded)."""
    exclude = {os.getpid(), os.getppid()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        pid = int(entry.name)
        cmdline = read_cmdline(pid)
        if cmdline and points_into(cmdline, directory) and is_running(pid):
            found.append((pid, cmdline))
    return found


def session_of(pid: int) -> int | None:
    """The session id of a live process, from /proc (None when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name: state, ppid, pgrp, session.
    return int(stat.rsplit(")", 1)[-1].split()[3])


def session_members(leader: int) -> list[tuple[int, list[str]]]:
    """Live processes of the session `leader` started (spawn gives each service its own session), so the
    children of a service are found by what it started, not by what their command lines contain."""
    exclude = {os.getpid(), os.getppid()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        pid = int(entry.name)
        if pid != leader and session_of(pid) == leader and is_running(pid):
            found.append((pid, read_cmdline(pid)))
    return found


def pids_listening(port: int) -> set[int]:
    """Pids with a listening TCP socket on `port` (any address), from /proc; empty if not visible."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{inode}]")
    pids = set()
    if not inodes:
        return pids
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        pids.add(int(entry.name))
                        break
    return pids


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (two clones building the same cached artifact at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of a text file (reads from the end, so large logs stay cheap)."""
    if lines <= 0 or not path.exists():
        return []
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        block = 8192
        data = b""
        while size > 0 and data.count(b"\n") <= lines:
            step = min(block, size)
            size -= step
            handle.seek(size)
            data = handle.read(step) + data
    return data.decode(errors="replace").splitlines()[-lines:]
