"""What the shop tests share: removing one business day from the lake so a test starts from nothing."""

from __future__ import annotations

import datetime as dt


def forget_day(lake, day: dt.date) -> None:
    """The day's raw objects (every version, on S3) and its staging and quarantine partitions removed."""
    if lake.describe().startswith("S3"):  # versioned raw-data: only the root key may remove a raw day
        from shopflow_assets.devstack.minio_iam import purge_with_root
        from shopflow_assets.settings import get_settings

        purge_with_root(get_settings(), "raw-data", f"{day:%Y/%m/%d}/")
    for bucket, prefix in (
        ("raw-data", f"{day:%Y/%m/%d}/"),
        ("staging", "shop/"),
        ("quarantine", "shop/"),
    ):
        for key in lake.list_keys(bucket, prefix):
            if bucket == "raw-data" or f"date={day.isoformat()}/" in key:
                lake.client.delete_object(Bucket=bucket, Key=key)
