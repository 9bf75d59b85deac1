-- Every silver item with its order (status, dates, customer), product and seller, and the derived
-- per-order facts of the contract. Items whose order is not in silver (orphans) are kept out: an item
-- without an order has no status, so it can never be a sale.
-- _changed_at = the newest silver/review change touching the row; gold models use it to pick the keys
-- an incremental run must recompute.
with orders as (select * from {{ ref('stg_olist__orders') }}),
items as (select * from {{ ref('stg_olist__order_items') }}),
reviews as (select * from {{ ref('int_olist__order_reviews') }})

select
    items.order_id,
    items.order_item_id,
    items.product_id,
    items.seller_id,
    items.price,
    items.freight_value,
    items.price + items.freight_value as item_revenue,
    items.product_category_name,
    items.product_category_name_english,
    coalesce(items.product_category_name_english, items.product_category_name, 'unknown') as product_category,
    items.seller_city,
    coalesce(items.seller_state, 'unknown') as seller_state,
    orders.order_status,
    orders.order_status = 'delivered' as is_sale,
    orders.customer_id,
    orders.customer_unique_id,
    coalesce(orders.customer_state, 'unknown') as customer_state,
    orders.order_purchase_timestamp,
    orders.order_purchase_timestamp::date as order_date,
    orders.order_delivered_customer_date,
    orders.order_estimated_delivery_date,
    -- fractional days from purchase to delivery at the customer
    epoch(orders.order_delivered_customer_date - orders.order_purchase_timestamp) / 86400.0 as delivery_days,
    orders.order_delivered_customer_date::date <= orders.order_estimated_delivery_date::date as is_on_time,
    reviews.order_review_score,
    greatest(items._silver_updated_at, orders._silver_updated_at, coalesce(reviews._changed_at, items._silver_updated_at)) as _changed_at
from items
inner join orders on orders.order_id = items.order_id
left join reviews on reviews.order_id = items.order_id
