-- An order's review score is the mean of its reviews' scores (orders without reviews have no row).
select
    order_id,
    avg(review_score)::double as order_review_score,
    max(_silver_updated_at) as _changed_at
from {{ ref('stg_olist__order_reviews') }}
where review_score is not null
group by order_id
