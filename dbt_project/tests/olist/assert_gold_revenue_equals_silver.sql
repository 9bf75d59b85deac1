{{ config(meta={'dagster': {'ref': {'name': 'gold_daily_sales'}}}) }}
-- Reconciliation: gold revenue (daily, seller, RFM) equals silver revenue computed straight from the
-- staging views over silver, so an incremental run that missed or double-counted a key fails here.
with silver as (
    select
        sum(i.price + i.freight_value) as revenue,
        sum(i.price + i.freight_value) filter (where o.customer_unique_id is not null) as customer_revenue,
        count(distinct o.order_id) as orders,
        sum(i.price) as price_revenue
    from {{ ref('stg_olist__order_items') }} i
    join {{ ref('stg_olist__orders') }} o on o.order_id = i.order_id
    where o.order_status = 'delivered'
),
gold as (
    select
        (select sum(total_revenue) from {{ ref('gold_daily_sales') }}) as daily_revenue,
        (select sum(total_orders) from {{ ref('gold_daily_sales') }}) as daily_orders,
        (select sum(total_revenue) from {{ ref('gold_seller_performance') }}) as seller_revenue,
        (select sum(monetary) from {{ ref('gold_customer_rfm') }}) as rfm_revenue,
        (select sum(total_revenue) from {{ ref('gold_product_analytics') }}) as product_revenue
)
select *
from silver, gold
where coalesce(daily_revenue, 0) <> coalesce(revenue, 0)
   or coalesce(daily_orders, 0) <> coalesce(orders, 0)
   or coalesce(seller_revenue, 0) <> coalesce(revenue, 0)
   or coalesce(rfm_revenue, 0) <> coalesce(customer_revenue, 0)
   or coalesce(product_revenue, 0) <> coalesce(price_revenue, 0)
