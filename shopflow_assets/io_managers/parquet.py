"""Frames <-> Parquet in the lake, checked against the dataset's contract on every write and read."""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING

import dagster as dg

from shopflow_assets.contracts.dataset import DatasetContract, get_contract, validate_frame
from shopflow_assets.io_managers.metadata import frame_metadata
from shopflow_assets.resources.lake import LakeKeyNotFoundError, LakeResource

# pandas and pyarrow are imported where frames are written or read, not when the code location loads.
if TYPE_CHECKING:
    import pandas as pd

PART_FILE = "part-0.parquet"


def to_pandas(frame) -> pd.DataFrame:
    """pandas as is; a Spark DataFrame through Arrow (the cleaned tables fit in the driver)."""
    import pandas as pd

    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "toPandas"):
        return frame.toPandas()
    raise TypeError(f"expected a pandas or Spark DataFrame, got {type(frame).__name__}")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="zstd")
    return buffer.getvalue()


def read_parquet_bytes(data: bytes) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data)).to_pandas()


def dataset_of(definition_metadata: dict | None, asset_key: dg.AssetKey) -> DatasetContract:
    name = (definition_metadata or {}).get("dataset")
    if name is None:
        raise dg.DagsterInvariantViolationError(
            f"asset {asset_key.to_user_string()} uses a contract-checked IO manager but declares no "
            "`dataset` in its metadata (e.g. metadata=CLEAN_ORDERS.asset_metadata())"
        )
    return get_contract(str(getattr(name, "value", name)))


class PanderaParquetIOManager(dg.ConfigurableIOManager):
    """Stores each asset partition as one Parquet object: `<bucket>/<asset/key/path>/date=YYYY-MM-DD/part-0.parquet`.

    The asset's definition metadata names its dataset contract (`dataset`) and may choose another
    bucket (`lake_bucket`, e.g. "quarantine"). Outputs may be pandas or Spark DataFrames; inputs are
    pandas. A contract violation fails the step, naming dataset, column, rule and offending rows.
    """

    lake: LakeResource
    bucket: str = "staging"

    def _bucket(self, definition_metadata: dict | None) -> str:
        value = (definition_metadata or {}).get("lake_bucket", self.bucket)
        return str(getattr(value, "value", value))

    @staticmethod
    def _keys(asset_key: dg.AssetKey, partition_keys: list[str] | None) -> list[str]:
        prefix = "/".join(asset_key.path)
        if not partition_keys:
            return [f"{prefix}/{PART_FILE}"]
        return [
            f"{prefix}/date={dt.date.fromisoformat(key).isoformat()}/{PART_FILE}" for key in partition_keys
        ]

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        contract = dataset_of(context.definition_metadata, context.asset_key)
        frame = validate_frame(contract, to_pandas(obj), stage="write")
        partitions = context.asset_partition_keys if context.has_asset_partitions else None
        if partitions and len(partitions) != 1:
            raise dg.DagsterInvariantViolationError(
                f"{contract.name}: one output covers {len(partitions)} partitions; write one day per run step"
            )
        bucket = self._bucket(context.definition_metadata)
        (key,) = self._keys(context.asset_key, partitions)
        lake = self.lake.get_lake()
        # Derived data (not raw): a rerun of the partition replaces its object.
        uri = lake.put_bytes(bucket, key, parquet_bytes(frame))
        context.add_output_metadata({**frame_metadata(contract, frame), "path": dg.MetadataValue.path(uri)})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        import pandas as pd

        upstream = context.upstream_output
        contract = dataset_of(upstream.definition_metadata if upstream else None, context.asset_key)
        bucket = self._bucket(upstream.definition_metadata if upstream else None)
        partitions = context.asset_partition_keys if context.has_asset_partitions else None
        lake = self.lake.get_lake()
        frames = []
        for key in self._keys(context.asset_key, partitions):
            try:
                frames.append(read_parquet_bytes(lake.get_bytes(bucket, key)))
            except LakeKeyNotFoundError as exc:
                raise dg.DagsterInvariantViolationError(
                    f"{contract.name}: {lake.uri(bucket, key)} does not exist; materialize "
                    f"{context.asset_key.to_user_string()} for that partition first"
                ) from exc
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return validate_frame(contract, frame, stage="read")
