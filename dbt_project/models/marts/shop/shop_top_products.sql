{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='order_date') }}

with per_product as (
    select
        order_date,
        product_id,
        category,
        count(*) as orders,
        sum(quantity) as units,
        sum(revenue) as revenue
    from {{ ref('int_shop__order_lines') }}
    where {{ shop_in_partition_window('order_date') }}
    group by order_date, product_id, category
),

ranked as (
    select
        *,
        row_number() over (
            partition by order_date order by revenue desc, units desc, product_id
        ) as product_rank
    from per_product
)

select order_date, product_rank, product_id, category, orders, units, revenue
from ranked
where product_rank <= 10
