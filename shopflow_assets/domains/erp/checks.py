"""Checks on the ERP warehouse: every fact row's dimension keys resolve (the star joins lose nothing).

The load asset evaluates them on its own connection right after each load (see assets.erp_load).
"""

import dagster as dg

from shopflow_assets.contracts.erp import FACTS, WAREHOUSE_SCHEMA

# fact column -> (dimension, its key)
_REFERENCES = {
    "sales_staff_id": ("dim_staff", "staff_id"),
    "staff_id": ("dim_staff", "staff_id"),
    "counterparty_id": ("dim_counterparty", "counterparty_id"),
    "currency_id": ("dim_currency", "currency_id"),
    "design_id": ("dim_design", "design_id"),
    "agreed_delivery_location_id": ("dim_location", "location_id"),
    "payment_type_id": ("dim_payment_type", "payment_type_id"),
    "transaction_id": ("dim_transaction", "transaction_id"),
    "created_date": ("dim_date", "date_id"),
    "agreed_delivery_date": ("dim_date", "date_id"),
    "agreed_payment_date": ("dim_date", "date_id"),
    "payment_date": ("dim_date", "date_id"),
}


def orphan_counts(conn, fact: str) -> dict[str, int]:
    """Per dimension key of the fact: rows whose value is missing from the dimension."""
    from psycopg import sql  # at run time: the code location loads without psycopg

    counts = {}
    for column, _ in FACTS[fact][3]:
        if column not in _REFERENCES:
            continue
        dim, key = _REFERENCES[column]
        statement = sql.SQL(
            "SELECT count(*) FROM {s}.{f} f WHERE f.{c} IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM {s}.{d} d WHERE d.{k} = f.{c})"
        ).format(
            s=sql.Identifier(WAREHOUSE_SCHEMA),
            f=sql.Identifier(fact),
            c=sql.Identifier(column),
            d=sql.Identifier(dim),
            k=sql.Identifier(key),
        )
        counts[column] = conn.execute(statement).fetchone()[0]
    return counts


CHECK_SPECS = [
    dg.AssetCheckSpec(
        f"{fact}_dimension_keys_resolve",
        asset=dg.AssetKey(["erp", "warehouse", fact]),
        description=f"Every dimension key of {fact} exists in its dimension.",
    )
    for fact in FACTS
]


def dimension_key_checks(conn) -> list[dg.AssetCheckResult]:
    """Evaluated by the load itself, on its connection, after every load."""
    results = []
    for fact, spec in zip(FACTS, CHECK_SPECS, strict=True):
        orphans = orphan_counts(conn, fact)
        results.append(
            dg.AssetCheckResult(
                asset_key=spec.asset_key,
                check_name=spec.name,
                passed=not any(orphans.values()),
                metadata={f"orphans_{column}": count for column, count in orphans.items()},
            )
        )
    return results
