select
    order_id,
    order_item_id,
    product_id,
    seller_id,
    {{ olist_utc('shipping_limit_date') }} as shipping_limit_date,
    price,
    freight_value,
    product_category_name,
    product_category_name_english,
    seller_city,
    seller_state,
    {{ olist_utc('_silver_updated_at') }} as _silver_updated_at
from {{ source('olist_silver', 'order_items') }}
