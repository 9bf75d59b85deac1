select
    user_id,
    signup_date as signed_up_at,
    country,
    last_seen_date
from {{ source('shop', 'dim_users') }}
