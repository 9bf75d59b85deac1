select
    orders.order_id,
    orders.order_date,
    orders.ordered_at,
    orders.user_id,
    users.country,
    orders.product_id,
    products.category,
    orders.quantity,
    orders.unit_price,
    orders.revenue
from {{ ref('stg_shop__orders') }} as orders
inner join {{ ref('stg_shop__users') }} as users on orders.user_id = users.user_id
inner join {{ ref('stg_shop__products') }} as products on orders.product_id = products.product_id
