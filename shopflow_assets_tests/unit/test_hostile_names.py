"""Names and addresses from configuration cannot reach further than meant (issue 24 item 4): a rainforest or
`shopflow lake --namespace` follows the identifier rule and never lands on another flow's production
tables; a Kafka topic with a comma is refused; the alert webhook is http(s) only; SHOPFLOW_HOME and the
directories made under it are 0700; Airflow's run id is quoted for bash."""

from __future__ import annotations

import shlex
import stat
import urllib.request

import pytest

from shopflow_assets.identifiers import UnsafeNameError, safe_topic

pytestmark = pytest.mark.unit


def _uri(bucket, key, engine):
    return f"/lake/{bucket}/{key}"


@pytest.mark.parametrize("namespace", ["x'); DROP", "a b", "../prod", "rainforest", "bronze/x", "Silver"])
def test_a_namespace_breaking_the_rule_or_on_production_tables_is_refused_everywhere(namespace):
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake
    from shopflow_assets.domains.rainforest.pipeline import RainforestLake
    from shopflow_assets.resources.delta_tables import DeltaTables
    from shopflow_assets.settings import get_settings

    for build in (
        lambda: MarketplaceLake(uri=_uri, namespace=namespace),
        lambda: RainforestLake(uri=_uri, namespace=namespace),
        lambda: DeltaTables(get_settings(), namespace),
    ):
        with pytest.raises(UnsafeNameError, match="not allowed"):
            build()
    assert RainforestLake(_uri, "_tests/ab-1").path("bronze", "orders") == (
        "/lake/lakehouse/_tests/ab-1/rainforest/bronze/orders"
    )


def test_lake_namespace_on_the_command_line_is_one_line_and_exit_2(capsys):
    from shopflow_assets import cli

    assert cli.main(["lake", "history", "silver_orders", "--namespace", "rainforest"]) == 2
    assert "production tables" in capsys.readouterr().err


def test_a_topic_with_a_comma_is_refused_before_kafka_is_asked(capsys):
    from shopflow_assets import cli

    with pytest.raises(UnsafeNameError, match="second topic"):
        safe_topic("raw_orders_x,clicks_topic", "topic")
    assert safe_topic("raw_orders_t-1.2", "topic") == "raw_orders_t-1.2"
    argv = ["produce", "olist", "--topic-suffix", "x,clicks_topic", "--source", "/nonexistent"]
    assert cli.main(argv) == 2
    argv = ["produce", "clicks", "--topic", "clicks_topic,user_actions", "--count", "1"]
    assert cli.main(argv) == 2
    assert "second topic" in capsys.readouterr().err


def test_the_kafka_source_refuses_a_topic_list():
    from shopflow_assets.resources.streaming.source import kafka_stream

    with pytest.raises(UnsafeNameError):
        kafka_stream(_FakeSpark(), "127.0.0.1:9", "raw_orders,clicks_topic")


class _FakeSpark:
    """Just enough of a SparkSession for kafka_stream to build its reader options."""

    @property
    def readStream(self):  # noqa: N802 - Spark's name
        return self

    def format(self, _name):
        return self

    def option(self, _key, _value):
        return self

    def load(self):
        raise AssertionError("the source was built")


def test_the_webhook_is_http_or_https_only(monkeypatch, tmp_path):
    from shopflow_assets.resources.alerts import Alert, AlertResource

    opened = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, **_: opened.append(request.full_url))
    secret = tmp_path / "secret"
    secret.write_text("token")
    alert = Alert(kind="run_failure", job="j", run_id="r", error="boom")
    for url in (secret.as_uri(), "ftp://example.invalid/x", "file:///etc/passwd"):
        assert AlertResource(webhook_url=url).send(alert) == ["log"]
    assert opened == []


def test_shopflow_home_and_the_directories_made_under_it_are_0700(tmp_path, monkeypatch):
    from shopflow_assets.resources.lake import LocalLake
    from shopflow_assets.settings import ensure_private_home, private_dir, reload_settings

    home = tmp_path / "a" / "home"
    monkeypatch.setenv("SHOPFLOW_HOME", str(home))
    settings = reload_settings()
    assert ensure_private_home(settings) == home
    for path in (home, home.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    home.chmod(0o755)  # an older checkout's home is tightened: nobody else lists or writes it
    ensure_private_home(settings)
    assert stat.S_IMODE(home.stat().st_mode) == 0o711
    # The PostgreSQL system user was let through (o+x) to its data: a later command must not lock it out,
    # or the running server fails its next checkpoint and shuts down (seen in a CI rehearsal).
    home.chmod(0o701)
    ensure_private_home(settings)
    assert stat.S_IMODE(home.stat().st_mode) == 0o701
    LocalLake(home / "lake").put_bytes("raw-data", "2024/01/01/users.csv", b"x")
    for path in (
        home / "lake",
        home / "lake" / "raw-data",
        home / "lake" / "raw-data" / "2024" / "01" / "01",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    assert private_dir(home / "services" / "kafka") == home / "services" / "kafka"
    assert stat.S_IMODE((home / "services").stat().st_mode) == 0o700


_RENDER = r"""
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags["olist_pipeline"]
hostile = "manual__x'; touch /tmp/pwned; echo '$(id)"
env = dag.get_template_env()
out = {t.task_id: env.from_string(t.bash_command).render(run_id=hostile)
       for t in dag.tasks if "{{ run_id" in t.bash_command}
print(json.dumps({"hostile": hostile, "commands": out}))
"""


def test_airflow_run_id_is_one_quoted_argument(tmp_path_factory):
    from shopflow_assets_tests.support.airflow_venv import inspect_dags

    rendered = inspect_dags(_RENDER, tmp_path_factory)
    assert set(rendered["commands"]) == {"notify_success", "notify_failure"}
    for command in rendered["commands"].values():
        words = shlex.split(command)
        assert words[words.index("--run-id") + 1] == rendered["hostile"]
