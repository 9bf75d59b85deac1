"""The Dagster UI in headless Chromium, served by `dagster-webserver` on a demo instance: the lineage page
shows every asset group, an asset page shows its row count and its checks, and a materialization launched
by clicking Materialize succeeds. Screenshots go to shopflow_assets_tests/e2e/out/."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from shopflow_assets.devstack.process import stop
from shopflow_assets.settings import PROJECT_ROOT
from shopflow_assets_tests.support.browser import browser_page, free_port, screenshot, wait_http
from shopflow_assets_tests.support.demo import demo_environment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ASSET = dg.AssetKey(["shop", "fact_orders"])
# Without a daemon, the instance must launch a run when it is submitted instead of queueing it.
DAEMONLESS_INSTANCE = """run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""


@pytest.fixture(scope="module")
def webserver(demo_home: Path):
    dagster_home = demo_home / "dagster"
    (dagster_home / "dagster.yaml").write_text(DAEMONLESS_INSTANCE)
    # This instance has already shown Dagster's "join the community" dialog (the file the webserver checks).
    # It otherwise pops up over the launch dialog at a moment that depends on the machine's speed, and a
    # click landing during its entrance left it open and the launch dialog unreachable (CI, stop 16).
    (dagster_home / ".nux").mkdir(exist_ok=True)
    (dagster_home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    port = free_port()
    env = demo_environment(demo_home)
    log = (demo_home / "webserver.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            *("-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/server_info", 300, alive=lambda: process.poll() is None)
        yield f"http://127.0.0.1:{port}", dagster_home
    finally:
        stop(process.pid, timeout=20)
        log.close()


@pytest.fixture(scope="module")
def definitions():
    from shopflow_assets.definitions import defs

    return defs


def _page(page):
    # The browser has dismissed the community dialog too (the UI keeps that in localStorage), and should
    # it show anyway, it is dismissed whenever it covers an element the test acts on.
    page.add_init_script("window.localStorage.setItem('communityNux', JSON.stringify('1'))")
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda button: button.click())
    return page


def test_lineage_page_shows_every_asset_group(webserver, definitions):
    base, _ = webserver
    groups = {spec.group_name for spec in definitions.resolve_all_asset_specs()}
    assert {"shop", "clickstream", "events", "marketplace"} <= groups
    with browser_page() as page:
        _page(page).goto(f"{base}/asset-groups")
        graph = page.locator("[data-testid='asset-graph'], .react-flow, svg").first
        graph.wait_for()
        for group in sorted(groups):
            # Each group is a node of the graph (and a folder of the sidebar tree).
            page.get_by_text(group, exact=True).first.wait_for()
            assert page.get_by_text(group, exact=True).count() >= 2, group
        screenshot(page, "dagster-lineage")


def test_asset_page_shows_row_count_and_checks(webserver, definitions, demo_home):
    base, _ = webserver
    with duckdb.connect(str(demo_home / "warehouse.duckdb"), read_only=True) as con:
        (orders,) = con.execute("SELECT count(*) FROM fact_orders").fetchone()
    checks = sorted(
        key.name for key in definitions.resolve_asset_graph().asset_check_keys if key.asset_key == ASSET
    )
    assert orders > 0 and checks

    with browser_page() as page:
        _page(page).goto(f"{base}/assets/{ASSET.to_user_string()}")
        row_count = page.get_by_text("Row count", exact=True).first
        row_count.wait_for()
        # The value sits next to its label, in the same cell of the status block.
        cell_text = row_count.locator("xpath=..").inner_text()
        assert f"{orders:,}" in cell_text or str(orders) in cell_text, cell_text
        screenshot(page, "dagster-asset-overview")

        page.goto(f"{base}/assets/{ASSET.to_user_string()}?view=checks")
        page.get_by_text(f"Checks ({len(checks)})").wait_for()
        for name in checks:
            assert page.get_by_text(name, exact=True).count() >= 1 or page.get_by_title(name).count() >= 1, (
                name
            )
        screenshot(page, "dagster-asset-checks")


def test_materialization_launched_from_the_ui_succeeds(webserver):
    base, dagster_home = webserver
    started = time.time()
    with browser_page() as page:
        _page(page).goto(f"{base}/assets/{ASSET.to_user_string()}")
        page.get_by_role("button", name="Materialize…").first.click()
        # fact_orders is one output of the star-schema multi-asset: the UI asks to confirm its siblings.
        confirm = page.get_by_role("button", name="Confirm")
        confirm.wait_for()
        confirm.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Latest", exact=True).click()
        dialog.get_by_role("button", name="Launch 1 run").click()

        run = _wait_for_ui_run(dagster_home, started, timeout=900)
        assert run.status == dg.DagsterRunStatus.SUCCESS, f"run {run.run_id} ended {run.status}"
        page.goto(f"{base}/runs/{run.run_id}")
        page.get_by_text("Success", exact=True).first.wait_for()
        page.get_by_text("Loading run logs…").wait_for(state="hidden", timeout=120_000)
        screenshot(page, "dagster-ui-run-succeeded")
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    assert run.tags.get("dagster/partition") == yesterday


def _wait_for_ui_run(dagster_home: Path, after: float, timeout: float) -> dg.DagsterRun:
    """The run the UI launched (tagged from_ui), once it has finished."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    deadline = time.monotonic() + timeout
    with dg.DagsterInstance.get() as instance:
        while time.monotonic() < deadline:
            runs = [
                r
                for r in instance.get_runs(dg.RunsFilter(tags={"dagster/from_ui": "true"}))
                if (instance.get_run_record_by_id(r.run_id).create_timestamp.timestamp() >= after - 5)
            ]
            if runs and runs[0].is_finished:
                return runs[0]
            time.sleep(3)
    pytest.fail(f"no run launched from the UI finished within {timeout:.0f} s")
