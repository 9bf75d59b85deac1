select
    seller_id,
    seller_zip_code_prefix,
    seller_city,
    seller_state,
    {{ olist_utc('_silver_updated_at') }} as _silver_updated_at
from {{ source('olist_silver', 'sellers') }}
