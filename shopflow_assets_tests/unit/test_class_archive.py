"""The driver's class-data sharing archive: keyed by JVM and jars, used only when present, harmless when
stale (the JVM then starts without it, silently)."""

import shlex
import subprocess
from pathlib import Path

import pytest

from shopflow_assets.resources import class_archive
from shopflow_assets.resources.spark import spark_conf
from shopflow_assets.settings import Settings

pytestmark = pytest.mark.unit


def test_the_archive_is_keyed_by_the_jar_set_and_lives_beside_the_jars(tmp_path):
    settings = Settings(SHOPFLOW_CACHE_DIR=str(tmp_path))
    one = class_archive.archive_path(settings, [Path("/jars/delta-spark.jar")])
    two = class_archive.archive_path(settings, [Path("/jars/delta-spark.jar"), Path("/jars/kafka.jar")])
    assert one.parent == settings.jars_dir and one.suffix == ".jsa"
    assert one != two
    assert one == class_archive.archive_path(settings, [Path("/jars/delta-spark.jar")])


def test_spark_conf_maps_the_archive_only_once_it_exists(tmp_path):
    settings = Settings(SHOPFLOW_CACHE_DIR=str(tmp_path))
    jars = [tmp_path / "a.jar"]
    assert "SharedArchiveFile" not in spark_conf(settings, jars=jars)["spark.driver.extraJavaOptions"]
    archive = class_archive.archive_path(settings, jars)
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"not an archive")
    options = spark_conf(settings, jars=jars)["spark.driver.extraJavaOptions"]
    assert f"-XX:SharedArchiveFile={archive}" in options
    assert "-XX:+UseParallelGC" in options  # the other driver options stay
    assert "SharedArchiveFile" not in spark_conf(settings, jars=jars)["spark.executor.extraJavaOptions"]


def test_a_stale_or_broken_archive_neither_stops_the_jvm_nor_prints_a_warning(tmp_path):
    settings = Settings(SHOPFLOW_CACHE_DIR=str(tmp_path))
    archive = class_archive.archive_path(settings, [])
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"\x00" * 4096)  # what a half-copied or foreign file looks like
    java = class_archive.java_binary()
    done = subprocess.run(
        [str(java), *shlex.split(class_archive.use_options(settings, [])), "-version"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    assert "warning" not in done.stderr.lower() and "archive" not in done.stderr.lower()
