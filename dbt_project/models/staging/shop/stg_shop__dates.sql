select
    date_key,
    "date" as calendar_date,
    year,
    quarter,
    month,
    day,
    day_of_week,
    day_name,
    month_name,
    is_weekend
from {{ source('shop', 'dim_date') }}
