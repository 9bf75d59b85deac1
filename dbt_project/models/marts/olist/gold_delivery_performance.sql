{{ config(
    materialized='incremental',
    unique_key=['seller_state', 'customer_state'],
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} t where not exists (select 1 from {{ ref('int_olist__order_items_enriched') }} i where i.is_sale and i.delivery_days is not null and i.seller_state = t.seller_state and i.customer_state = t.customer_state)"
) }}
-- depends_on: {{ ref('int_olist__item_key_history') }}
-- One row per seller_state x customer_state. A delivery = a distinct (order, seller) of a delivered
-- order with a delivery date. Definitions: _olist__marts.yml.
with items as (select * from {{ ref('int_olist__order_items_enriched') }}),

affected as (
    {{ olist_affected_keys(['seller_state', 'customer_state']) }}
),

deliveries as (
    select distinct order_id, seller_id, seller_state, customer_state, delivery_days, is_on_time
    from items
    where is_sale
      and order_delivered_customer_date is not null
      and exists (
          select 1 from affected a
          where a.seller_state = items.seller_state and a.customer_state = items.customer_state
      )
),

per_route as (
    select
        seller_state,
        customer_state,
        count(*) as total_deliveries,
        avg(delivery_days) as avg_delivery_days,
        avg(case when is_on_time then 1.0 else 0.0 end) as on_time_rate
    from deliveries
    group by seller_state, customer_state
)

select
    seller_state,
    customer_state,
    total_deliveries,
    round(avg_delivery_days, 2)::decimal(8, 2) as avg_delivery_days,
    round(on_time_rate, 4)::decimal(5, 4) as on_time_rate,
    (1 - round(on_time_rate, 4))::decimal(5, 4) as late_rate,
    {{ olist_source_watermark() }} as _source_watermark,
    now()::timestamp as _gold_updated_at
from per_route
