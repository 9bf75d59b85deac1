"""Spark's extra classpath: parsing jar names, refusing duplicates of pyspark's jars, pom consistency."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from shopflow_assets.resources.spark_jars import (
    POM_PATH,
    SparkJarsError,
    artifact_name,
    check_no_duplicates,
    ensure_spark_jars,
    find_duplicate_artifacts,
    jars_folder,
    pom_hash,
    pyspark_jars_dir,
)
from shopflow_assets.settings import Settings, get_settings

pytestmark = pytest.mark.unit

POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@pytest.mark.parametrize(
    ("jar", "artifact"),
    [
        ("hadoop-client-api-3.5.0.jar", "hadoop-client-api"),
        ("spark-sql-kafka-0-10_2.13-4.2.0.jar", "spark-sql-kafka-0-10_2.13"),
        ("delta-spark_4.2_2.13-4.4.0.jar", "delta-spark_4.2_2.13"),
        ("log4j-1.2-api-2.25.4.jar", "log4j-1.2-api"),
        ("zstd-jni-1.5.7-7.jar", "zstd-jni"),
        ("netty-tcnative-boringssl-static-2.0.76.Final-linux-x86_64.jar", "netty-tcnative-boringssl-static"),
        ("guava-33.6.0-jre.jar", "guava"),
        ("jsr305-3.0.0.jar", "jsr305"),
    ],
)
def test_artifact_name_strips_only_the_version(jar, artifact):
    assert artifact_name(jar) == artifact


def test_duplicates_are_found_whatever_the_version():
    duplicates = find_duplicate_artifacts(
        ["jackson-databind-2.13.5.jar", "hadoop-aws-3.5.0.jar"],
        ["jackson-databind-2.21.2.jar", "hadoop-client-api-3.5.0.jar"],
    )
    assert duplicates == {"jackson-databind": ("jackson-databind-2.13.5.jar", "jackson-databind-2.21.2.jar")}


def test_check_no_duplicates_names_the_offending_jars(tmp_path):
    ours, shipped = tmp_path / "ours", tmp_path / "shipped"
    ours.mkdir()
    shipped.mkdir()
    (ours / "parquet-hadoop-1.16.0.jar").write_bytes(b"")
    (shipped / "parquet-hadoop-1.17.0.jar").write_bytes(b"")
    with pytest.raises(
        SparkJarsError, match=r"parquet-hadoop-1\.16\.0\.jar \(pyspark ships parquet-hadoop-1\.17\.0\.jar\)"
    ):
        check_no_duplicates(ours, shipped)


def test_jars_folder_is_keyed_by_the_pom(tmp_path):
    settings = Settings(
        _env_file=None, SHOPFLOW_HOME=str(tmp_path), SHOPFLOW_CACHE_DIR=str(tmp_path / "cache")
    )
    assert jars_folder(settings) == tmp_path / "cache" / "jars" / f"spark-{pom_hash()}"
    other = tmp_path / "pom.xml"
    other.write_text(POM_PATH.read_text() + "<!-- changed -->")
    assert pom_hash(other) != pom_hash()


def _pom_property(name: str) -> str:
    return ET.parse(POM_PATH).getroot().find(f"m:properties/m:{name}", POM_NS).text


def test_pom_versions_match_the_installed_pyspark():
    import pyspark

    shipped = {p.name for p in pyspark_jars_dir().glob("*.jar")}
    (hadoop_api,) = [name for name in shipped if name.startswith("hadoop-client-api-")]
    assert _pom_property("hadoop.version") == re.search(r"-(\d+\.\d+\.\d+)\.jar$", hadoop_api).group(1)
    assert _pom_property("spark.version") == pyspark.__version__
    (jackson,) = [name for name in shipped if name.startswith("jackson-databind-")]
    assert jackson == f"jackson-databind-{_pom_property('jackson.version')}.jar"


def test_fetched_classpath_has_what_spark_needs_and_nothing_pyspark_ships():
    jars = {p.name for p in ensure_spark_jars(get_settings())}
    for expected in (
        "spark-sql-kafka-0-10_2.13-4.2.0.jar",
        "kafka-clients-",
        f"hadoop-aws-{_pom_property('hadoop.version')}.jar",
        "bundle-",
        f"delta-spark_4.2_2.13-{_pom_property('delta.version')}.jar",
        f"delta-storage-{_pom_property('delta.version')}.jar",
        "postgresql-",
    ):
        assert any(name.startswith(expected) for name in jars), expected
    assert find_duplicate_artifacts(jars, (p.name for p in pyspark_jars_dir().glob("*.jar"))) == {}
    # One version of each artifact.
    assert len({artifact_name(name) for name in jars}) == len(jars)
