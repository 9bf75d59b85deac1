"""Dataset contracts: one Pandera schema per dataset, plus what storage and the IO managers need to know.

A contract is registered once by its domain module (e.g. `shopflow_assets.contracts.shop`) with
`register_dataset`, which takes only what differs between datasets (name, description, columns, keys).
An asset binds to the contract object (`metadata=FACT_ORDERS.asset_metadata()`, which Dagster stores as
the contract's name, since definition metadata must be serializable) and the IO managers look the
contract up by that name, so assets never repeat a schema and a wrong contract fails at import, not at
run time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

# Failure rows and offending records shown in an error message; enough to act on, short enough to read.
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class DatasetContract:
    """What a dataset must look like, and how it is keyed and partitioned in storage.

    - `schema`: the Pandera schema checked on every write and every read, or a LazySchema: a registered
      dataset builds its schema on first use, so loading the code location imports neither
      pandas nor Pandera (`validation_schema` is the built one).
    - `sql_types`: column -> warehouse SQL type (the DDL of warehouse tables; money is DECIMAL(12,2)).
    - `primary_key`: the columns that identify a row (unique in the whole table).
    - `partition_column`: the date column a daily partition replaces (delete-then-insert).
    - `version_column`: for tables merged by primary key instead (dimensions keeping the newest version of
      each key): a row replaces the stored row of the same key only if its version is not older, so a
      rerun or a backfill of an older day never reverts newer attributes.
    """

    name: str
    schema: pa.DataFrameSchema | LazySchema
    sql_types: Mapping[str, str] = field(default_factory=dict)
    primary_key: Sequence[str] = ()
    partition_column: str | None = None
    version_column: str | None = None
    description: str = ""
    # The column names in order when `schema` is a LazySchema (so they are known without building it).
    column_names: Sequence[str] | None = None

    @cached_property
    def validation_schema(self) -> pa.DataFrameSchema:
        # A DataFrameSchema is itself callable (it validates), hence the type test rather than callable().
        if isinstance(self.schema, LazySchema):
            return self.schema()
        return self.schema

    @property
    def columns(self) -> list[str]:
        if self.column_names is not None:
            return list(self.column_names)
        return list(self.validation_schema.columns)

    def asset_metadata(self, **extra: str) -> dict[str, str]:
        """The definition metadata that binds an asset (output) to this contract, plus `extra` entries."""
        return {"dataset": self.name, **extra}


class ContractViolationError(Exception):
    """A frame broke its dataset's contract. The message names dataset, stage, columns, rules and rows."""

    def __init__(self, dataset: str, stage: str, failures: pd.DataFrame, message: str):
        self.dataset = dataset
        self.stage = stage
        self.failures = failures
        super().__init__(message)


_REGISTRY: dict[str, DatasetContract] = {}


def register_contract(contract: DatasetContract) -> DatasetContract:
    existing = _REGISTRY.get(contract.name)
    if existing is not None and existing is not contract:
        raise ValueError(f"dataset contract {contract.name!r} is registered twice")
    _REGISTRY[contract.name] = contract
    return contract


# A column of a dataset: its Pandera rules, or (rules, warehouse SQL type) for a column of a warehouse table.
# The rules may be written with `lazy_pandera` (the usual case in contracts/): then they are built with
# the schema, on first use.
ColumnSpec: TypeAlias = "pa.Column | Deferred | tuple[pa.Column | Deferred, str]"


class Deferred:
    """A Pandera call written down now and made later: `lazy_pandera.Column(str, nullable=False)`.

    Importing pandera (and with it pandas, and pyspark.pandas) costs seconds, and the contracts are imported
    whenever the code location loads, while their schemas are only needed when a frame is validated. The
    call is replayed unchanged on first use, so the schema is the one the same call would have built."""

    def __init__(self, path: tuple[str, ...], args: tuple = (), kwargs: dict | None = None):
        self._path, self._args, self._kwargs = path, args, kwargs

    def __getattr__(self, name: str) -> Deferred:
        if name.startswith("_") or self._kwargs is not None:
            raise AttributeError(name)
        return Deferred((*self._path, name))

    def __call__(self, *args: Any, **kwargs: Any) -> Deferred:
        return Deferred(self._path, args, kwargs)

    def __repr__(self) -> str:
        return f"lazy_pandera.{'.'.join(self._path)}(...)"

    def build(self) -> Any:
        import pandera.pandas as pandera

        target: Any = pandera
        for name in self._path:
            target = getattr(target, name)
        return target(*build_deferred(self._args), **build_deferred(self._kwargs or {}))


def build_deferred(value: Any) -> Any:
    """`value` with every Deferred in it (also inside tuples, lists and dicts) made."""
    if isinstance(value, Deferred):
        return value.build()
    if isinstance(value, tuple | list):
        return type(value)(build_deferred(item) for item in value)
    if isinstance(value, dict):
        return {key: build_deferred(item) for key, item in value.items()}
    return value


# `from shopflow_assets.contracts.dataset import lazy_pandera as pa` in a contract module: `pa.Column(...)`,
# `pa.Check.ge(1)`, `pa.DataFrameSchema(...)` are then Deferred calls of `pandera.pandas`.
lazy_pandera = Deferred(())


class LazySchema:
    """A schema built on the first call from Deferred (or plain) arguments of `pandera.pandas.DataFrameSchema`."""

    def __init__(self, *args: Any, **kwargs: Any):
        self._call = Deferred(("DataFrameSchema",), args, kwargs)

    def __call__(self) -> pa.DataFrameSchema:
        return self._call.build()


def register_dataset(
    name: str,
    description: str,
    columns: Mapping[str, ColumnSpec],
    *,
    unique: Sequence[str] | None = None,
    primary_key: Sequence[str] = (),
    partition_column: str | None = None,
    version_column: str | None = None,
) -> DatasetContract:
    """Register the contract of a frame with exactly `columns`, in that order: the schema is strict, ordered
    and named after the dataset, `unique` lists columns unique together, and a column given with its SQL
    type goes into `sql_types`. The keyword arguments are DatasetContract's."""
    rules = {column: spec[0] if isinstance(spec, tuple) else spec for column, spec in columns.items()}
    sql_types = {column: spec[1] for column, spec in columns.items() if isinstance(spec, tuple)}
    return register_contract(
        DatasetContract(
            name=name,
            description=description,
            schema=LazySchema(rules, unique=unique, strict=True, ordered=True, name=name),
            column_names=tuple(columns),
            sql_types=sql_types,
            primary_key=primary_key,
            partition_column=partition_column,
            version_column=version_column,
        )
    )


def get_contract(name: str) -> DatasetContract:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"no dataset contract named {name!r} (registered: {known})") from None


def validate_frame(contract: DatasetContract, frame: pd.DataFrame, stage: str) -> pd.DataFrame:
    """Validate (and coerce dtypes of) `frame` against the contract; raise ContractViolationError on failure.

    `stage` says where the check happened ("write" or "read"), so a message tells whether bad data was
    produced by this step or found in storage.
    """
    from pandera import errors as pandera_errors

    try:
        return contract.validation_schema.validate(frame, lazy=True)
    except pandera_errors.SchemaErrors as exc:
        failures = exc.failure_cases
        raise ContractViolationError(
            contract.name, stage, failures, describe_failures(contract.name, stage, frame, failures)
        ) from None


def describe_failures(dataset: str, stage: str, frame: pd.DataFrame, failures: pd.DataFrame) -> str:
    """One line per (column, rule): how many rows broke it and a sample of the offending rows."""
    import pandas as pd

    lines = [f"dataset {dataset!r} broke its contract on {stage} ({len(frame)} rows checked):"]
    grouped = failures.fillna({"column": "<frame>"}).groupby(["column", "check"], sort=False, dropna=False)
    for (column, check), cases in grouped:
        indexes = [i for i in cases["index"].tolist() if i is not None and not pd.isna(i)]
        line = f"  - column {column!r}, rule {check!r}: {len(cases)} failing value(s)"
        if indexes and len(frame):
            sample_index = [i for i in dict.fromkeys(indexes) if i in frame.index][:SAMPLE_SIZE]
            sample = frame.loc[sample_index].to_dict(orient="records")
            line += f"; offending rows (index -> record): {dict(zip(sample_index, sample, strict=True))}"
        else:
            values = cases["failure_case"].head(SAMPLE_SIZE).tolist()
            line += f"; failure cases: {values}"
        lines.append(line)
    return "\n".join(lines)
