{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='order_date') }}

select
    order_date,
    count(*) as orders,
    sum(quantity) as units,
    count(distinct user_id) as customers,
    sum(revenue) as revenue,
    cast(sum(revenue) / count(*) as decimal(12, 2)) as avg_order_value
from {{ ref('int_shop__order_lines') }}
where {{ shop_in_partition_window('order_date') }}
group by order_date
