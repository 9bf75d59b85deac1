select
    order_id,
    order_date,
    order_ts as ordered_at,
    user_id,
    product_id,
    quantity,
    unit_price,
    total_amount as revenue
from {{ source('shop', 'fact_orders') }}
