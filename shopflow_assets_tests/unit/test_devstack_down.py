"""`services down` stops what the stack started (its pids and their sessions), and nothing else."""

import os
import signal
import subprocess  # nosec B404 # test processes
import sys
import time

import pytest

from shopflow_assets.devstack.process import LaunchSpec, is_running, spawn
from shopflow_assets.devstack.stack import SERVICES, stop_services
from shopflow_assets.settings import Settings, reload_settings

pytestmark = pytest.mark.unit

# A service stand-in that starts a child in its session, as PostgreSQL's postmaster or a JVM launcher does.
PARENT = (
    "import subprocess, sys, time; "
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', sys.argv[1] + '/child']); "
    "print('CHILD', child.pid, flush=True); time.sleep(120)"
)


@pytest.fixture
def stack_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    reload_settings()
    yield Settings(_env_file=None)
    monkeypatch.undo()
    reload_settings()


def _child_pid(log_file, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in log_file.read_text().splitlines() if line.startswith("CHILD ")]
        if lines:
            return int(lines[0].split()[1])
        assert time.monotonic() < deadline, log_file.read_text()
        time.sleep(0.05)


@pytest.mark.parametrize("parent_killed_first", [False, True])
def test_down_stops_its_process_and_children_but_not_a_stranger_in_its_directory(
    stack_home, parent_killed_first
):
    service = SERVICES["minio"]
    data_dir = service.data_dir(stack_home)
    data_dir.mkdir(parents=True)
    log_file = service.log_file(stack_home)
    parent = spawn(
        LaunchSpec(argv=[sys.executable, "-c", PARENT, str(data_dir)]), log_file, service.pid_file(stack_home)
    )
    # Not started by the stack, yet its command line names the service's data directory (a user's `du`,
    # `tail -f`, a backup): the old /proc sweep by command line killed it.
    stranger = subprocess.Popen(  # nosec B603 # fixed arguments
        [sys.executable, "-c", "import time; time.sleep(120)", str(data_dir / "backup")],
        start_new_session=True,
    )
    try:
        child = _child_pid(log_file)
        if parent_killed_first:  # a crashed parent leaves its child behind and a stale pid file
            os.kill(parent, signal.SIGKILL)
            for _ in range(100):
                if not is_running(parent):
                    break
                time.sleep(0.05)
        outcomes = stop_services([service], stack_home)
        assert not is_running(parent) and not is_running(child), outcomes
        assert f"leftover pid {child}" in outcomes["minio"] or not parent_killed_first
        assert is_running(stranger.pid), f"down stopped a process it never started: {outcomes}"
    finally:
        stranger.kill()
        stranger.wait(10)
