-- Every day of shop_daily_revenue carries exactly the revenue and order count of fact_orders that day.
with facts as (
    select order_date, count(*) as orders, sum(total_amount) as revenue
    from {{ source('shop', 'fact_orders') }}
    group by order_date
)

select gold.order_date, gold.revenue, facts.revenue as fact_revenue, gold.orders, facts.orders as fact_orders
from {{ ref('shop_daily_revenue') }} as gold
left join facts on gold.order_date = facts.order_date
where facts.order_date is null or gold.revenue <> facts.revenue or gold.orders <> facts.orders
