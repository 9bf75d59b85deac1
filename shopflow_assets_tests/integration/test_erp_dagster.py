"""The ERP assets, jobs and sensors in Dagster, on the real PostgreSQL and MinIO: schema drift fails the
ingestion run for that table only and the failure alert is mailed to a local SMTP server; the transform is
started by an ingestion that wrote something, and only then."""

from __future__ import annotations

import time
from decimal import Decimal

import dagster as dg
import pytest

from shopflow_assets.domains.erp.assets import RAW_KEYS, WAREHOUSE_KEYS
from shopflow_assets.domains.erp.automation import erp_transform_sensor
from shopflow_assets.domains.erp.definitions import defs as erp_defs
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.settings import get_settings
from shopflow_assets_tests.support.alerts import alert_resource, evaluate_failure_sensor, smtp_server
from shopflow_assets_tests.support.erp import erp_stack, rows

pytestmark = pytest.mark.stack


@pytest.fixture
def erp():
    with erp_stack(get_settings()) as stack:
        yield stack


def _definitions(erp) -> dg.Definitions:
    return dg.Definitions.merge(
        erp_defs,
        dg.Definitions(
            resources={
                "postgres": erp.owner,
                "postgres_reader": erp.reader,
                "lake": LakeResource(backend="s3"),
            }
        ),
    )


def _config(erp, op: str, **extra) -> dict:
    config = {
        "source_database": erp.source_db,
        "warehouse_database": erp.warehouse_db,
        "lake_prefix": erp.prefix,
    }
    if op != "erp_raw":
        del config["source_database"]
    return {"ops": {op: {"config": {**config, **extra}}}}


def _run(defs, job: str, run_config: dict, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(job).execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False
    )


def test_schema_drift_fails_that_table_only_and_the_failure_alert_is_mailed(erp):
    erp.run()
    with erp.source() as src:
        src.execute("ALTER TABLE design DROP COLUMN file_name")
        src.execute("UPDATE staff SET first_name = 'Iris' WHERE staff_id = 2")
    instance = dg.DagsterInstance.ephemeral()
    defs = _definitions(erp)
    result = _run(defs, "erp_ingest", _config(erp, "erp_raw", safety_lag_seconds=0.0), instance)
    assert not result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {RAW_KEYS["staff"]}  # the other tables went on; only staff had a change
    meta = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == RAW_KEYS["staff"]
    )
    assert meta["dagster/row_count"].value == 1
    assert "design" not in erp.watermarks() or erp.watermarks()["design"] < erp.watermarks()["staff"]

    with smtp_server() as mailbox:
        evaluate_failure_sensor(instance, instance.get_run_by_id(result.run_id), alert_resource(mailbox))
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert "erp_ingest" in mail["Subject"] and "erp_raw" in mail["Subject"]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert (
        "schema drift in totesys.public.design: column 'file_name' (character varying(200)) was removed"
        in body
    )


def test_only_an_ingestion_that_wrote_something_starts_the_transform_and_the_chain_loads(erp):
    instance = dg.DagsterInstance.ephemeral()
    defs = _definitions(erp)
    sensor_context = dg.build_multi_asset_sensor_context(
        monitored_assets=list(RAW_KEYS.values()), instance=instance, definitions=defs
    )
    assert _run(defs, "erp_ingest", _config(erp, "erp_raw", safety_lag_seconds=0.0), instance).success
    first = erp_transform_sensor(sensor_context)
    assert isinstance(first, dg.RunRequest)

    # Nothing changed: the ingestion succeeds, writes and materializes nothing, and starts no transform.
    idle = _run(defs, "erp_ingest", _config(erp, "erp_raw", safety_lag_seconds=0.0), instance)
    assert idle.success and idle.get_asset_materialization_events() == []
    assert isinstance(erp_transform_sensor(sensor_context), dg.SkipReason)

    config = _config(erp, "erp_processed")
    config["ops"].update(_config(erp, "erp_warehouse")["ops"])
    loaded = _run(defs, "erp_transform", config, instance)  # transform, then load, in one run
    assert loaded.success
    counts = {
        e.asset_key: e.materialization.metadata["dagster/row_count"].value
        for e in loaded.get_asset_materialization_events()
        if e.asset_key in WAREHOUSE_KEYS.values()
    }
    with erp.source() as src:
        assert (
            counts[WAREHOUSE_KEYS["fact_sales_order"]] == rows(src, "SELECT count(*) FROM sales_order")[0][0]
        )
    checks = loaded.get_asset_check_evaluations()
    assert len(checks) == 3 and all(c.passed for c in checks)
    # Nothing new: the sweep job loads nothing and the transform job transforms nothing.
    assert _run(defs, "erp_load", _config(erp, "erp_warehouse"), instance).success
    idle_transform = _run(defs, "erp_transform", config, instance)
    assert idle_transform.success
    assert not [
        e for e in idle_transform.get_asset_materialization_events() if e.asset_key in WAREHOUSE_KEYS.values()
    ]


def test_the_change_sensor_sees_exactly_the_tables_changed_since_their_watermark(erp):
    from shopflow_assets.domains.erp.automation import pending_changes

    def pending():
        with erp.reader.connect(database=erp.source_db, autocommit=True) as reader, erp.warehouse() as state:
            return pending_changes(reader, state)

    assert set(pending()) == set(RAW_KEYS)  # never ingested: every table
    erp.run()
    assert pending() == {}
    time.sleep(2)
    with erp.source() as src:
        changed = rows(src, "UPDATE payment SET paid = NOT paid WHERE payment_id = 1 RETURNING last_updated")[
            0
        ][0]
        lag = (rows(src, "SELECT clock_timestamp()")[0][0] - changed).total_seconds() + 1.0
    first = pending()
    assert set(first) == {"payment"}
    erp.ingest(safety_lag_seconds=lag)  # stops a second short of the change: the watermark moves, it waits
    second = pending()
    assert set(second) == {"payment"} and second != first  # a new fingerprint: the sensor asks again


def test_the_change_sensor_run_ingests_transforms_and_loads_in_one_run_only_when_it_wrote(erp):
    from shopflow_assets.domains.erp.assets import PROCESSED_KEYS, erp_ingest, erp_load, erp_transform
    from shopflow_assets.domains.erp.automation import CHAINED_TAG

    erp.run()
    instance = dg.DagsterInstance.ephemeral()
    resources = {"postgres": erp.owner, "postgres_reader": erp.reader, "lake": LakeResource(backend="s3")}
    config = _config(erp, "erp_raw", safety_lag_seconds=0.0)
    config["ops"].update(_config(erp, "erp_processed")["ops"])
    config["ops"].update(_config(erp, "erp_warehouse")["ops"])
    downstream = [*PROCESSED_KEYS.values(), *WAREHOUSE_KEYS.values()]

    def chained_run(table: str) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [erp_ingest, erp_transform, erp_load],
            selection=[RAW_KEYS[table], *downstream],
            resources=resources,
            run_config=config,
            instance=instance,
            tags={CHAINED_TAG: "true"},
        )

    with erp.source() as src:
        src.execute("UPDATE payment SET payment_amount = 123.45 WHERE payment_id = 7")
    wrote = chained_run("payment")
    keys = {e.asset_key for e in wrote.get_asset_materialization_events()}
    assert RAW_KEYS["payment"] in keys and WAREHOUSE_KEYS["fact_payment"] in keys
    with erp.warehouse() as wh:
        assert rows(
            wh, "SELECT payment_amount FROM erp.fact_payment WHERE payment_id = 7 ORDER BY payment_record_id"
        )[-1] == (Decimal("123.45"),)

    idle = chained_run("staff")  # staff did not change: nothing written, transform and load skipped
    assert idle.success and idle.get_asset_materialization_events() == []
    skipped = {e.step_key for e in idle.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert skipped == {"erp_processed", "erp_warehouse"}

    # The raw object of a chained run was transformed in that run: the asset sensor starts nothing.
    context = dg.build_multi_asset_sensor_context(
        monitored_assets=list(RAW_KEYS.values()), instance=instance, definitions=_definitions(erp)
    )
    assert isinstance(erp_transform_sensor(context), dg.SkipReason)
