"""The ShopFlow code location: every domain's Definitions merged with the environment's resources.

Each domain (`domains/<name>/definitions.py`) declares its own assets, checks, jobs, schedules, sensors and
domain-specific IO managers; the shared resources (spark, lake, warehouse, kafka, postgres) come from
`build_resources()`, switched by SHOPFLOW_ENV in one place.
"""

import dagster as dg

from shopflow_assets.domains.clickstream import definitions as clickstream
from shopflow_assets.domains.erp import definitions as erp
from shopflow_assets.domains.events import definitions as events
from shopflow_assets.domains.marketplace import definitions as marketplace
from shopflow_assets.domains.operations import definitions as operations
from shopflow_assets.domains.rainforest import definitions as rainforest
from shopflow_assets.domains.shop import definitions as shop
from shopflow_assets.resources import build_resources

# Modules, not their `defs` objects, are imported: Dagster allows one Definitions at module scope.
DOMAINS = (shop, clickstream, events, marketplace, erp, rainforest, operations)

defs = dg.Definitions.merge(
    *(domain.defs for domain in DOMAINS),
    dg.Definitions(resources=build_resources()),
)
