{{ config(
    materialized='incremental',
    unique_key='customer_unique_id',
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where customer_unique_id not in (select customer_unique_id from {{ ref('int_olist__order_items_enriched') }} where is_sale and customer_unique_id is not null)"
) }}
-- depends_on: {{ ref('int_olist__item_key_history') }}
-- One row per person (customer_unique_id) with sales. Definitions: _olist__marts.yml.
-- Recency is measured against the as-of date = the latest order date among delivered orders, so when
-- that date moves every customer is recomputed.
with items as (select * from {{ ref('int_olist__order_items_enriched') }}),

as_of as (
    select max(order_date) as as_of_date from items where is_sale
),

affected as (
    {{ olist_affected_keys(['customer_unique_id']) }}
    {% if is_incremental() %}
    union
    -- a new as-of date changes every customer's recency
    select distinct customer_unique_id from items
    where (select as_of_date from as_of) is distinct from (select max(as_of_date) from {{ this }})
    {% endif %}
),

sales as (
    select * from items
    where is_sale
      and customer_unique_id is not null
      and customer_unique_id in (select customer_unique_id from affected)
),

rfm_base as (
    select
        customer_unique_id,
        ((select as_of_date from as_of) - max(order_date))::integer as recency_days,
        count(distinct order_id)::integer as frequency,
        sum(item_revenue)::decimal(14, 2) as monetary
    from sales
    group by customer_unique_id
)

select
    customer_unique_id,
    recency_days,
    frequency,
    monetary,
    {{ rfm_segment('recency_days', 'frequency', 'monetary') }} as rfm_segment,
    (select as_of_date from as_of) as as_of_date,
    {{ olist_source_watermark() }} as _source_watermark,
    now()::timestamp as _gold_updated_at
from rfm_base
