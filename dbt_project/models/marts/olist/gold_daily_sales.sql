{{ config(
    materialized='incremental',
    unique_key='order_date',
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where order_date not in (select order_date from {{ ref('int_olist__order_items_enriched') }} where is_sale)"
) }}
-- depends_on: {{ ref('int_olist__item_key_history') }}
-- One row per order date of delivered orders. Definitions: _olist__marts.yml.
with items as (select * from {{ ref('int_olist__order_items_enriched') }}),

affected as (
    {{ olist_affected_keys(['order_date']) }}
),

sales as (
    select items.*
    from items
    where is_sale and order_date in (select order_date from affected)
)

select
    order_date,
    count(distinct order_id) as total_orders,
    sum(item_revenue)::decimal(14, 2) as total_revenue,
    round(sum(item_revenue) / count(distinct order_id), 2)::decimal(12, 2) as avg_order_value,
    count(*) as total_items,
    {{ olist_source_watermark() }} as _source_watermark,
    now()::timestamp as _gold_updated_at
from sales
group by order_date
