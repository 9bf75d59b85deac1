"""Pandera-checked IO managers shared by every domain.

A domain registers a `DatasetContract` (shopflow_assets.contracts.dataset) per dataset and names it in each
asset by its metadata (`metadata=CONTRACT.asset_metadata()`); these IO managers validate every frame against it
when it is written and when it is read back.
"""

from shopflow_assets.io_managers.parquet import PanderaParquetIOManager
from shopflow_assets.io_managers.warehouse import PanderaDuckDBIOManager

__all__ = ["PanderaDuckDBIOManager", "PanderaParquetIOManager"]
