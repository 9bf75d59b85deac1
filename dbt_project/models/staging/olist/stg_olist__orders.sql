-- One row per order from silver. Spark writes UTC instants; they are read back as naive UTC timestamps
-- so that dates do not depend on the DuckDB session time zone.
select
    order_id,
    customer_id,
    order_status,
    {{ olist_utc('order_purchase_timestamp') }} as order_purchase_timestamp,
    {{ olist_utc('order_approved_at') }} as order_approved_at,
    {{ olist_utc('order_delivered_carrier_date') }} as order_delivered_carrier_date,
    {{ olist_utc('order_delivered_customer_date') }} as order_delivered_customer_date,
    {{ olist_utc('order_estimated_delivery_date') }} as order_estimated_delivery_date,
    customer_unique_id,
    customer_city,
    customer_state,
    {{ olist_utc('_silver_updated_at') }} as _silver_updated_at
from {{ source('olist_silver', 'orders') }}
