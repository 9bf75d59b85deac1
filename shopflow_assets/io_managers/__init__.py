"""Pandera-checked IO managers shared by every domain.

A domain registers a `DatasetContract` per dataset (see `shopflow_assets.contracts.shop`) and names it
in each asset's metadata (`{"dataset": "<domain>.<table>"}`); these IO managers validate every frame
against it when it is written and when it is read back.
"""

from shopflow_assets.io_managers.contract import (
    ContractViolationError,
    DatasetContract,
    get_contract,
    register_contract,
    validate_frame,
)
from shopflow_assets.io_managers.parquet import PanderaParquetIOManager
from shopflow_assets.io_managers.warehouse import PanderaDuckDBIOManager

__all__ = [
    "ContractViolationError",
    "DatasetContract",
    "PanderaDuckDBIOManager",
    "PanderaParquetIOManager",
    "get_contract",
    "register_contract",
    "validate_frame",
]
