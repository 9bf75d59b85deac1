"""Where source files land before ingestion: the shop's daily CSVs and the Olist CSV snapshot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from shopflow_assets.settings import get_settings


class SourceFilesResource(dg.ConfigurableResource):
    """Landing folders. A field left None follows the settings in force when used (SHOPFLOW_SHOP_LANDING_DIR,
    SHOPFLOW_OLIST_CSV_DIR, else under SHOPFLOW_HOME); build_resources() fills both."""

    shop_landing_dir: str | None = None
    olist_csv_dir: str | None = None

    def shop_landing_root(self) -> Path:
        return Path(self.shop_landing_dir) if self.shop_landing_dir else get_settings().shop_landing_root

    def shop_landing_file(self, day: dt.date, dataset: str) -> Path:
        """<landing>/YYYY-MM-DD/<Users|Products|Orders>.csv of a business day."""
        # Imported here: the shop contract pulls in Spark types, and building resources must start nothing.
        from shopflow_assets.contracts.shop import RAW_FILE_NAMES

        return self.shop_landing_root() / day.isoformat() / RAW_FILE_NAMES[dataset]

    def olist_csv_root(self) -> Path:
        return Path(self.olist_csv_dir) if self.olist_csv_dir else get_settings().olist_csv_root
