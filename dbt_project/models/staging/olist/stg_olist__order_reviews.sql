select
    review_id,
    order_id,
    review_score,
    {{ olist_utc('review_creation_date') }} as review_creation_date,
    {{ olist_utc('_silver_updated_at') }} as _silver_updated_at
from {{ source('olist_silver', 'order_reviews') }}
