select
    product_id,
    category,
    price as list_price,
    last_seen_date
from {{ source('shop', 'dim_products') }}
