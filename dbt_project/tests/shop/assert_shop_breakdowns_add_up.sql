-- Revenue by country and by category both add up to the day's revenue.
with daily as (select order_date, revenue from {{ ref('shop_daily_revenue') }}),
by_country as (select order_date, sum(revenue) as revenue from {{ ref('shop_revenue_by_country') }} group by 1),
by_category as (select order_date, sum(revenue) as revenue from {{ ref('shop_revenue_by_category') }} group by 1)

select daily.order_date, daily.revenue, by_country.revenue as country_revenue, by_category.revenue as category_revenue
from daily
left join by_country using (order_date)
left join by_category using (order_date)
where by_country.revenue is distinct from daily.revenue or by_category.revenue is distinct from daily.revenue
