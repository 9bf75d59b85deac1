"""Contracts of the Olist marketplace lakehouse: what each bronze, silver and gold table holds.

One place for the names, keys, column types and business rules of bronze and silver, so the bronze
parser, the silver validation and the tests all read the same definitions. Gold's rules are the dbt
tests of its models (dbt_project/models/marts/olist/_olist__marts.yml), not repeated here.

Bronze keeps every source column as a string (raw, as sent); silver casts to the types below and
quarantines a row whose non-empty value does not parse, with the column named in the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Statuses seen in the real data; anything else is quarantined in silver as `invalid_status`.
ORDER_STATUSES = (
    "delivered",
    "shipped",
    "canceled",
    "unavailable",
    "processing",
    "invoiced",
    "created",
    "approved",
)
# Silver amounts outside [0, MAX_AMOUNT] are quarantined (the silver quality gate bounds amounts so).
MAX_AMOUNT = 100_000

INGESTION_TS = "_ingestion_timestamp"
# One Olist row as a Kafka message is well under a kilobyte; a message over this is dead-lettered unparsed.
MAX_RECORD_BYTES = 256 * 1024


TS = "timestamp"
MONEY = "decimal(12,2)"
# The JSON number a producer sends for a column of each silver type (columns of other types are strings).
JSON_NUMBERS: dict[str, type] = {"int": int, "double": float, MONEY: float}


@dataclass(frozen=True)
class TableContract:
    """One Olist table: where it comes from, its key, and how its columns are typed in silver.

    `types` maps a column to the Spark SQL type it is cast to in silver; columns not listed stay strings.
    `whole_numbers` are counts that silver types `double` all the same (pandas writes "40.0" whenever a
    value of the column is missing; double survives both forms); a producer sends them as JSON integers.
    """

    name: str  # bronze/silver table name: lakehouse/bronze/<name>, lakehouse/silver/<name>
    csv_name: str  # Kaggle file name without .csv
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    topic: str | None = None  # None: landed in bronze by batch from its CSV
    types: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()  # non-key columns that must be present in silver
    non_negative: tuple[str, ...] = ()  # amounts that must be in [0, MAX_AMOUNT]
    in_silver: bool = True
    whole_numbers: tuple[str, ...] = ()

    @property
    def silver_name(self) -> str:
        return f"silver_{self.name}"

    def json_numbers(self) -> dict[str, type]:
        """Columns a producer sends as JSON numbers, with their type (int or float); the other columns are
        sent as the CSV's strings (zip prefixes stay strings for their leading zeros)."""
        numbers = {c: JSON_NUMBERS[t] for c, t in self.types.items() if t in JSON_NUMBERS}
        return numbers | dict.fromkeys(self.whole_numbers, int)

    def __reduce_ex__(self, protocol):
        # On the warm driver a foreachBatch function runs in a Python worker of the Connect server, which
        # unpickles the contracts it closes over. A registered contract comes back as this module's own
        # object there, so `table is ORDERS` holds in the worker as in the run (a copy failed it, and
        # silently skipped the enrichment joins).
        if BY_NAME.get(self.name) is self:
            return (contract_named, (self.name,))
        return super().__reduce_ex__(protocol)


def contract_named(name: str) -> TableContract:
    """The registered contract of an Olist table (what a pickled contract turns back into)."""
    return BY_NAME[name]


ORDERS = TableContract(
    name="orders",
    csv_name="olist_orders_dataset",
    topic="raw_orders",
    columns=(
        "order_id",
        "customer_id",
        "order_status",
        "order_purchase_timestamp",
        "order_approved_at",
        "order_delivered_carrier_date",
        "order_delivered_customer_date",
        "order_estimated_delivery_date",
    ),
    keys=("order_id",),
    required=("customer_id", "order_status", "order_purchase_timestamp"),
    types={
        "order_purchase_timestamp": TS,
        "order_approved_at": TS,
        "order_delivered_carrier_date": TS,
        "order_delivered_customer_date": TS,
        "order_estimated_delivery_date": TS,
    },
)
ORDER_ITEMS = TableContract(
    name="order_items",
    csv_name="olist_order_items_dataset",
    topic="raw_order_items",
    columns=(
        "order_id",
        "order_item_id",
        "product_id",
        "seller_id",
        "shipping_limit_date",
        "price",
        "freight_value",
    ),
    keys=("order_id", "order_item_id"),
    required=("product_id", "seller_id", "price", "freight_value"),
    non_negative=("price", "freight_value"),
    types={"order_item_id": "int", "shipping_limit_date": TS, "price": MONEY, "freight_value": MONEY},
)
CUSTOMERS = TableContract(
    name="customers",
    csv_name="olist_customers_dataset",
    topic="raw_customers",
    columns=(
        "customer_id",
        "customer_unique_id",
        "customer_zip_code_prefix",
        "customer_city",
        "customer_state",
    ),
    keys=("customer_id",),
    required=("customer_unique_id",),
)
_PRODUCT_MEASURES = (
    "product_name_lenght",
    "product_description_lenght",
    "product_photos_qty",
    "product_weight_g",
    "product_length_cm",
    "product_height_cm",
    "product_width_cm",
)
PRODUCTS = TableContract(
    name="products",
    csv_name="olist_products_dataset",
    topic="raw_products",
    columns=("product_id", "product_category_name", *_PRODUCT_MEASURES),
    keys=("product_id",),
    types=dict.fromkeys(_PRODUCT_MEASURES, "double"),
    whole_numbers=_PRODUCT_MEASURES,
)
SELLERS = TableContract(
    name="sellers",
    csv_name="olist_sellers_dataset",
    topic="raw_sellers",
    columns=("seller_id", "seller_zip_code_prefix", "seller_city", "seller_state"),
    keys=("seller_id",),
)
ORDER_PAYMENTS = TableContract(
    name="order_payments",
    csv_name="olist_order_payments_dataset",
    columns=("order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"),
    keys=("order_id", "payment_sequential"),
    required=("payment_value",),
    non_negative=("payment_value",),
    types={"payment_sequential": "int", "payment_installments": "int", "payment_value": MONEY},
)
ORDER_REVIEWS = TableContract(
    name="order_reviews",
    csv_name="olist_order_reviews_dataset",
    columns=(
        "review_id",
        "order_id",
        "review_score",
        "review_comment_title",
        "review_comment_message",
        "review_creation_date",
        "review_answer_timestamp",
    ),
    keys=("review_id", "order_id"),
    required=("review_score",),
    types={"review_score": "int", "review_creation_date": TS, "review_answer_timestamp": TS},
)
GEOLOCATION = TableContract(
    name="geolocation",
    csv_name="olist_geolocation_dataset",
    columns=(
        "geolocation_zip_code_prefix",
        "geolocation_lat",
        "geolocation_lng",
        "geolocation_city",
        "geolocation_state",
    ),
    keys=(),  # the real file repeats zip prefixes: no key, bronze only
    in_silver=False,
)
CATEGORY_TRANSLATION = TableContract(
    name="category_translation",
    csv_name="product_category_name_translation",
    columns=("product_category_name", "product_category_name_english"),
    keys=("product_category_name",),
    in_silver=False,
)

STREAMED = (ORDERS, ORDER_ITEMS, CUSTOMERS, PRODUCTS, SELLERS)
BATCH_LOADED = (ORDER_PAYMENTS, ORDER_REVIEWS, GEOLOCATION, CATEGORY_TRANSLATION)
ALL_TABLES = STREAMED + BATCH_LOADED
BY_NAME = {t.name: t for t in ALL_TABLES}
# Silver is built dimensions first, so facts enriched in the same run see their dimensions.
SILVER_ORDER = (CUSTOMERS, PRODUCTS, SELLERS, ORDERS, ORDER_ITEMS, ORDER_PAYMENTS, ORDER_REVIEWS)

# Columns silver adds to the source columns, per table (the enrichment).
ENRICHMENT = {
    "orders": ("customer_unique_id", "customer_zip_code_prefix", "customer_city", "customer_state"),
    "order_items": (
        "product_category_name",
        "product_category_name_english",
        "seller_zip_code_prefix",
        "seller_city",
        "seller_state",
    ),
    "products": ("product_category_name_english",),
}

# Bronze bookkeeping columns (besides the source columns and `_ingestion_timestamp`).
BRONZE_META = (
    "_kafka_key",
    "_kafka_partition",
    "_kafka_offset",
    "_kafka_timestamp",
    "_bronze_ingested_at",
    "_ingestion_date",
)
DEAD_LETTER_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "key",
    "value",
    "reason",
    "_bronze_ingested_at",
)
