{{ config(
    materialized='incremental',
    unique_key=['order_id', 'order_item_id', 'order_date', 'seller_id', 'product_category', 'customer_unique_id', 'seller_state', 'customer_state'],
    incremental_strategy='delete+insert'
) }}
-- Every combination of gold keys an order item has ever had, so an incremental gold model can recompute
-- the key an item left (an order moved to another day, an item to another seller or category) and not
-- only the key it moved to. Rows are only added: a new combination when an item changes keys.
select distinct
    order_id,
    order_item_id,
    order_date,
    seller_id,
    product_category,
    customer_unique_id,
    seller_state,
    customer_state,
    max(_changed_at) over (partition by order_id, order_item_id) as _changed_at
from {{ ref('int_olist__order_items_enriched') }} as items
{% if is_incremental() %}
where items._changed_at > (select coalesce(max(_changed_at), '1900-01-01'::timestamp) from {{ this }})
{% endif %}
