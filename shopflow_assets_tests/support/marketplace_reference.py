"""An independent (pandas) computation of the marketplace gold metrics, and a small Olist-shaped dataset.

Used by the gold and end-to-end tests to check dbt's numbers: nothing here shares code with the models.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pandas as pd

STATES = ("SP", "RJ", "MG", "RS", "BA")
CATEGORIES = (("beleza_saude", "health_beauty"), ("informatica", "computers"), ("pcs", None), (None, None))


def small_olist(n_orders: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Final (newest) versions of a small Olist dataset, columns as strings like the CSVs."""
    rng = random.Random(seed)
    people = [f"u{i}" for i in range(max(2, n_orders // 3))]  # people order several times
    sellers = pd.DataFrame(
        {
            "seller_id": [f"s{i}" for i in range(8)],
            "seller_zip_code_prefix": [f"{rng.randint(1000, 99999):05d}" for _ in range(8)],
            "seller_city": [f"city{i}" for i in range(8)],
            "seller_state": [rng.choice(STATES) for _ in range(8)],
        }
    )
    products = pd.DataFrame(
        {
            "product_id": [f"p{i}" for i in range(20)],
            "product_category_name": [CATEGORIES[i % len(CATEGORIES)][0] for i in range(20)],
            "product_weight_g": [str(float(rng.randint(50, 5000))) for _ in range(20)],
        }
    )
    translation = pd.DataFrame(
        [(pt, en) for pt, en in CATEGORIES if pt and en],
        columns=["product_category_name", "product_category_name_english"],
    )
    orders, items, customers, reviews = [], [], [], []
    start = datetime(2018, 1, 1)
    for n in range(n_orders):
        order_id, customer_id = f"o{n}", f"c{n}"
        bought = start + timedelta(days=rng.randint(0, 120), seconds=rng.randint(0, 86399))
        status = rng.choices(["delivered", "shipped", "canceled"], [90, 6, 4])[0]
        delivered = bought + timedelta(days=rng.uniform(1, 25)) if status == "delivered" else None
        if delivered is not None and rng.random() < 0.05:
            delivered = None  # delivered without a delivery date happens in the real data
        estimated = (bought + timedelta(days=rng.randint(5, 20))).replace(hour=0, minute=0, second=0)
        fmt = "%Y-%m-%d %H:%M:%S"
        orders.append(
            {
                "order_id": order_id,
                "customer_id": customer_id,
                "order_status": status,
                "order_purchase_timestamp": bought.strftime(fmt),
                "order_delivered_customer_date": delivered.strftime(fmt) if delivered else "",
                "order_estimated_delivery_date": estimated.strftime(fmt),
            }
        )
        customers.append(
            {
                "customer_id": customer_id,
                "customer_unique_id": rng.choice(people),
                "customer_zip_code_prefix": f"{rng.randint(1000, 99999):05d}",
                "customer_city": "x",
                "customer_state": rng.choice(STATES),
            }
        )
        for k in range(1, rng.choice([1, 1, 1, 2, 3]) + 1):
            items.append(
                {
                    "order_id": order_id,
                    "order_item_id": str(k),
                    "product_id": f"p{rng.randrange(20)}",
                    "seller_id": f"s{rng.randrange(8)}",
                    "price": f"{rng.uniform(5, 900):.2f}",
                    "freight_value": f"{rng.uniform(0, 40):.2f}",
                }
            )
        for r in range(rng.choice([0, 1, 1, 1, 2])):
            reviews.append(
                {"review_id": f"r{n}-{r}", "order_id": order_id, "review_score": str(rng.randint(1, 5))}
            )
    return {
        "orders": pd.DataFrame(orders),
        "order_items": pd.DataFrame(items),
        "customers": pd.DataFrame(customers),
        "products": products,
        "sellers": sellers,
        "order_reviews": pd.DataFrame(reviews, columns=["review_id", "order_id", "review_score"]),
        "category_translation": translation,
    }


def _sales(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Item rows of delivered orders with everything the metrics need (typed)."""
    orders = tables["orders"].copy()
    for col in ("order_purchase_timestamp", "order_delivered_customer_date", "order_estimated_delivery_date"):
        orders[col] = pd.to_datetime(orders[col].replace("", None))
    items = tables["order_items"].copy()
    items["price"] = items["price"].astype(float)
    items["freight_value"] = items["freight_value"].astype(float)
    sales = items.merge(orders[orders["order_status"] == "delivered"], on="order_id")
    sales = sales.merge(
        tables["customers"][["customer_id", "customer_unique_id", "customer_state"]], how="left"
    )
    sales = sales.merge(tables["sellers"][["seller_id", "seller_state", "seller_city"]], how="left")
    products = tables["products"][["product_id", "product_category_name"]].merge(
        tables["category_translation"], how="left"
    )
    sales = sales.merge(products, how="left", on="product_id")
    sales["product_category"] = (
        sales["product_category_name_english"].fillna(sales["product_category_name"]).fillna("unknown")
    )
    sales["revenue"] = sales["price"] + sales["freight_value"]
    sales["order_date"] = sales["order_purchase_timestamp"].dt.date
    delta = sales["order_delivered_customer_date"] - sales["order_purchase_timestamp"]
    sales["delivery_days"] = delta.dt.total_seconds() / 86400
    sales["on_time"] = (
        sales["order_delivered_customer_date"].dt.date <= sales["order_estimated_delivery_date"].dt.date
    )
    scores = tables["order_reviews"].assign(score=lambda d: d["review_score"].astype(float))
    per_order = scores.groupby("order_id")["score"].mean().rename("order_score")
    return sales.merge(per_order, how="left", left_on="order_id", right_index=True)


def daily_sales(tables) -> pd.DataFrame:
    s = _sales(tables)
    out = s.groupby("order_date").agg(
        total_orders=("order_id", "nunique"),
        total_revenue=("revenue", "sum"),
        total_items=("order_id", "size"),
    )
    out["avg_order_value"] = out["total_revenue"] / out["total_orders"]
    return out.reset_index()


def seller_performance(tables) -> pd.DataFrame:
    s = _sales(tables)
    per_order = s.drop_duplicates(["seller_id", "order_id"])
    out = s.groupby("seller_id").agg(total_revenue=("revenue", "sum"))
    out = out.join(
        per_order.groupby("seller_id").agg(
            total_orders=("order_id", "size"),
            avg_review_score=("order_score", "mean"),
            avg_delivery_days=("delivery_days", "mean"),
        )
    )
    return out.reset_index()


RFM_RULES = (
    ("Champions", lambda r, f, m: r <= 30 and f >= 3 and m >= 500),
    ("Loyal Customers", lambda r, f, m: f >= 3),
    ("Potential Loyalists", lambda r, f, m: r <= 30 and f < 3),
    ("At Risk", lambda r, f, m: r > 90 and f >= 2),
    ("Hibernating", lambda r, f, m: r > 90),
)


def rfm_segment(recency: int, frequency: int, monetary: float) -> str:
    return next((name for name, rule in RFM_RULES if rule(recency, frequency, monetary)), "Others")


def customer_rfm(tables) -> pd.DataFrame:
    s = _sales(tables)
    as_of = s["order_date"].max()
    s = s[s["customer_unique_id"].notna()]
    out = s.groupby("customer_unique_id").agg(
        last=("order_date", "max"), frequency=("order_id", "nunique"), monetary=("revenue", "sum")
    )
    out["recency_days"] = [(as_of - d).days for d in out["last"]]
    out["rfm_segment"] = [
        rfm_segment(r, f, m)
        for r, f, m in zip(out["recency_days"], out["frequency"], out["monetary"], strict=True)
    ]
    return out.drop(columns="last").reset_index()


def product_analytics(tables) -> pd.DataFrame:
    s = _sales(tables)
    out = s.groupby("product_category").agg(
        total_sold=("order_id", "size"), total_revenue=("price", "sum"), avg_price=("price", "mean")
    )
    per_order = s.drop_duplicates(["product_category", "order_id"])
    out = out.join(per_order.groupby("product_category").agg(avg_review_score=("order_score", "mean")))
    return out.reset_index()


def delivery_performance(tables) -> pd.DataFrame:
    s = _sales(tables)
    s = s[s["order_delivered_customer_date"].notna()].copy()
    s["seller_state"] = s["seller_state"].fillna("unknown")
    s["customer_state"] = s["customer_state"].fillna("unknown")
    d = s.drop_duplicates(["order_id", "seller_id"])
    out = d.groupby(["seller_state", "customer_state"]).agg(
        total_deliveries=("order_id", "size"),
        avg_delivery_days=("delivery_days", "mean"),
        on_time_rate=("on_time", "mean"),
    )
    out["late_rate"] = 1 - out["on_time_rate"]
    return out.reset_index()
