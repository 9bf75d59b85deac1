{{ config(
    materialized='incremental',
    unique_key='product_category',
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where product_category not in (select product_category from {{ ref('int_olist__order_items_enriched') }} where is_sale)"
) }}
-- depends_on: {{ ref('int_olist__item_key_history') }}
-- One row per product category (English, else Portuguese, else 'unknown'). Definitions: _olist__marts.yml.
with items as (select * from {{ ref('int_olist__order_items_enriched') }}),

affected as (
    {{ olist_affected_keys(['product_category']) }}
),

sales as (
    select * from items where is_sale and product_category in (select product_category from affected)
),

category_orders as (
    select distinct product_category, order_id, order_review_score from sales
),

reviews as (
    select product_category, avg(order_review_score) as avg_review_score
    from category_orders
    group by product_category
)

select
    product_category,
    count(*) as total_sold,
    sum(price)::decimal(14, 2) as total_revenue,
    round(avg(price), 2)::decimal(12, 2) as avg_price,
    round(max(reviews.avg_review_score), 2)::decimal(4, 2) as avg_review_score,
    {{ olist_source_watermark() }} as _source_watermark,
    now()::timestamp as _gold_updated_at
from sales
left join reviews using (product_category)
group by product_category
