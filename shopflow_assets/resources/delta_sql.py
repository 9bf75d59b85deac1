"""Delta driven in Spark SQL: MERGE with a marked commit, the latest commit, and a run's marks read back.

SQL, not the `DeltaTable` Python API, whose Spark Connect form needs Delta's server plugin (not published
for Spark 4.2): the same code runs on an in-process session and on the warm driver. A `foreachBatch`
function on the warm driver runs beside the server, out of reach of the run's objects, so what it did
reaches the run as data: its MERGE commit's `userMetadata` carries the run's token and the batch's counts,
and the run reads its marks back with DESCRIBE HISTORY (`run_marks`).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the code location loads without pyspark
    from pyspark.sql import DataFrame, SparkSession

# The session setting Delta writes into the next commit's userMetadata.
COMMIT_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"
# What DESCRIBE HISTORY says of a path without a Delta table (missing, or a plain folder).
NO_DELTA_TABLE = ("DELTA_TABLE_ONLY_OPERATION", "DELTA_MISSING_DELTA_TABLE", "PATH_NOT_FOUND")


def merge(
    spark: SparkSession, source: DataFrame, statement: str, commit_metadata: dict | None = None
) -> None:
    """Run a MERGE statement whose `{source}` is `source` (a temporary view of the session while it runs).

    `commit_metadata` becomes the MERGE commit's userMetadata: a session setting for the statement's
    duration, so the session must not commit anything else meanwhile (each caller merges one table at a
    time, and each run has a session of its own).
    """
    view = f"merge_source_{uuid.uuid4().hex}"
    source.createOrReplaceTempView(view)
    if commit_metadata is not None:
        spark.conf.set(COMMIT_METADATA_CONF, json.dumps(commit_metadata))
    try:
        spark.sql(statement.format(source=view))
    finally:
        if commit_metadata is not None:
            spark.conf.unset(COMMIT_METADATA_CONF)
        spark.catalog.dropTempView(view)


def latest_commit(spark: SparkSession, path: str) -> Any:
    """The Delta table's latest commit (a row of DESCRIBE HISTORY), None when no Delta table is there."""
    from pyspark.errors import AnalysisException

    try:
        return spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").first()  # nosec B608 - our lake path
    except AnalysisException as error:
        if error.getCondition() in NO_DELTA_TABLE:
            return None
        raise


def is_delta_table(spark: SparkSession, path: str) -> bool:
    return latest_commit(spark, path) is not None


def metadata_object(text: str | None) -> dict:
    """A commit's userMetadata as a JSON object ({} when there is none, or it is not one)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def last_commit_metadata(spark: SparkSession, path: str) -> dict:
    """The JSON userMetadata of the Delta table's latest commit ({} without a table or metadata)."""
    latest = latest_commit(spark, path)
    return metadata_object(latest["userMetadata"]) if latest is not None else {}


def run_marks(spark: SparkSession, path: str, token: str, commits: int) -> dict[int, dict]:
    """{batch id: mark} of the commits among the table's last `commits` whose mark names run `token`.

    A batch merged twice in the run (a retry) counts once, as its last commit says.
    """
    history = spark.sql(
        f"DESCRIBE HISTORY delta.`{path}` LIMIT {int(commits)}"  # nosec B608 - our lake path
    ).select("version", "userMetadata")
    marks: dict[int, dict] = {}
    for row in sorted(history.collect(), key=lambda r: r.version):
        mark = metadata_object(row.userMetadata)
        if mark.get("run") == token:
            marks[int(mark["batch"])] = mark
    return marks
