select
    product_id,
    product_category_name,
    product_category_name_english,
    {{ olist_utc('_silver_updated_at') }} as _silver_updated_at
from {{ source('olist_silver', 'products') }}
