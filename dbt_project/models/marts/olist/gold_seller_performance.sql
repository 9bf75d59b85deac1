{{ config(
    materialized='incremental',
    unique_key='seller_id',
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where seller_id not in (select seller_id from {{ ref('int_olist__order_items_enriched') }} where is_sale)"
) }}
-- depends_on: {{ ref('int_olist__item_key_history') }}
-- One row per seller with sales. Definitions: _olist__marts.yml.
with items as (select * from {{ ref('int_olist__order_items_enriched') }}),

affected as (
    {{ olist_affected_keys(['seller_id']) }}
),

sales as (
    select * from items where is_sale and seller_id in (select seller_id from affected)
),

seller_orders as (
    -- one row per (seller, order): review and delivery facts belong to the order, not to each item
    select distinct seller_id, order_id, order_review_score, delivery_days from sales
),

per_order as (
    select
        seller_id,
        count(*) as total_orders,
        avg(order_review_score) as avg_review_score,
        avg(delivery_days) as avg_delivery_days
    from seller_orders
    group by seller_id
),

per_item as (
    select seller_id, max(seller_city) as seller_city, sum(item_revenue) as total_revenue
    from sales
    group by seller_id
)

select
    per_item.seller_id,
    per_item.seller_city,
    per_order.total_orders,
    per_item.total_revenue::decimal(14, 2) as total_revenue,
    round(per_order.avg_review_score, 2)::decimal(4, 2) as avg_review_score,
    round(per_order.avg_delivery_days, 2)::decimal(8, 2) as avg_delivery_days,
    {{ olist_source_watermark() }} as _source_watermark,
    now()::timestamp as _gold_updated_at
from per_item
inner join per_order using (seller_id)
