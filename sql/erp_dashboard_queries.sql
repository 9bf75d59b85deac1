-- The ERP dashboard's queries over the PostgreSQL warehouse (database `warehouse`, schema `erp`).
--
-- Facts keep every version of a source row (history), so each query first takes the LATEST version of
-- every order: summing all versions would count an order once per change. Money is never summed across
-- currencies: every figure is per currency. Each query is a block starting with `-- name: <name>`;
-- shopflow_assets_tests/integration/test_erp_warehouse.py runs each one and compares it with the same
-- figure computed directly from the OLTP source.

-- name: sales_by_month_and_currency
-- Sales per month (of the order's creation, UTC) and currency: orders, units and value (units x price).
WITH latest AS (
    SELECT DISTINCT ON (sales_order_id) *
    FROM erp.fact_sales_order
    ORDER BY sales_order_id, source_last_updated DESC
)
SELECT d.year,
       d.month,
       d.month_name,
       c.currency_code,
       count(*)                          AS orders,
       sum(l.units_sold)                 AS units_sold,
       sum(l.units_sold * l.unit_price)  AS sales_value
FROM latest l
JOIN erp.dim_date d ON d.date_id = l.created_date
JOIN erp.dim_currency c ON c.currency_id = l.currency_id
GROUP BY d.year, d.month, d.month_name, c.currency_code
ORDER BY d.year, d.month, c.currency_code;

-- name: top_counterparties
-- The 5 counterparties with the highest sales value in each currency, with their legal city and country.
WITH latest AS (
    SELECT DISTINCT ON (sales_order_id) *
    FROM erp.fact_sales_order
    ORDER BY sales_order_id, source_last_updated DESC
), totals AS (
    SELECT c.currency_code,
           cp.counterparty_id,
           cp.counterparty_legal_name,
           cp.counterparty_legal_city,
           cp.counterparty_legal_country,
           count(*)                          AS orders,
           sum(l.units_sold * l.unit_price)  AS sales_value
    FROM latest l
    JOIN erp.dim_counterparty cp ON cp.counterparty_id = l.counterparty_id
    JOIN erp.dim_currency c ON c.currency_id = l.currency_id
    GROUP BY c.currency_code, cp.counterparty_id, cp.counterparty_legal_name,
             cp.counterparty_legal_city, cp.counterparty_legal_country
), ranked AS (
    SELECT *, rank() OVER (PARTITION BY currency_code ORDER BY sales_value DESC, counterparty_id) AS position
    FROM totals
)
SELECT currency_code, position, counterparty_id, counterparty_legal_name, counterparty_legal_city,
       counterparty_legal_country, orders, sales_value
FROM ranked
WHERE position <= 5
ORDER BY currency_code, position;

-- name: purchase_vs_sales_by_location
-- Per agreed delivery location (country, city) and currency: sales value and purchase value side by side.
WITH sales AS (
    SELECT DISTINCT ON (sales_order_id) agreed_delivery_location_id AS location_id, currency_id,
           units_sold * unit_price AS value
    FROM erp.fact_sales_order
    ORDER BY sales_order_id, source_last_updated DESC
), purchases AS (
    SELECT DISTINCT ON (purchase_order_id) agreed_delivery_location_id AS location_id, currency_id,
           item_quantity * item_unit_price AS value
    FROM erp.fact_purchase_order
    ORDER BY purchase_order_id, source_last_updated DESC
), combined AS (
    SELECT location_id, currency_id, value AS sales_value, 0::numeric AS purchase_value FROM sales
    UNION ALL
    SELECT location_id, currency_id, 0::numeric, value FROM purchases
)
SELECT loc.country,
       loc.city,
       loc.location_id,
       c.currency_code,
       sum(sales_value)     AS sales_value,
       sum(purchase_value)  AS purchase_value
FROM combined x
JOIN erp.dim_location loc ON loc.location_id = x.location_id
JOIN erp.dim_currency c ON c.currency_id = x.currency_id
GROUP BY loc.country, loc.city, loc.location_id, c.currency_code
ORDER BY loc.country, loc.city, loc.location_id, c.currency_code;
