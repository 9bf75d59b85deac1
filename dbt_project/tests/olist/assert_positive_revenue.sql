-- Singular test: no day of delivered sales has zero or negative revenue.
select order_date, total_revenue
from {{ ref('gold_daily_sales') }}
where total_revenue <= 0
