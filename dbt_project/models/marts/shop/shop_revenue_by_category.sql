{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='order_date') }}

select
    order_date,
    category,
    count(*) as orders,
    sum(quantity) as units,
    sum(revenue) as revenue
from {{ ref('int_shop__order_lines') }}
where {{ shop_in_partition_window('order_date') }}
group by order_date, category
