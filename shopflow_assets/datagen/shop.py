"""Daily shop snapshots: `Users.csv`, `Products.csv`, `Orders.csv` plus a ground-truth manifest.

What a day looks like (scale 1): 10,000 orders; a user base of 2,000 on 2020-01-01 growing 0.1% a day
and a catalogue of 200 products growing 0.05% a day (so ~5,000 users and ~330 products in 2024).
Everything is proportional to the order count: `orders=1_000_000` gives ~500k users and ~33k products.

Determinism: a user's or product's attributes depend only on (seed, its number), drawn from
prefix-stable NumPy streams, so usr17 has the same signup date and country in every day's snapshot
and the snapshot of day D+1 extends that of day D. A day's orders and dirty rows depend on
(seed, date). Same arguments -> byte-identical files.

Dirty rows: `dirty_rate` of each file's rows are made dirty on purpose, each with exactly one defect.
The manifest lists every row the cleaning step must quarantine, with the rule it will fire under the
project's cleaning rules (see RULES; first matching rule wins), including the cascade: an order whose
user or product row is dirty is `unknown_user` / `unknown_product`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from shopflow_assets.datagen import csvio

# The cleaning rules in order of precedence: a row is quarantined under the first one it breaks.
RULES = (
    "missing_value",
    "bad_type",
    "non_positive_price",
    "bad_quantity",
    "negative_total_amount",
    "unknown_user",
    "unknown_product",
    "duplicate_key",
)
PRECEDENCE = {rule: rank for rank, rule in enumerate(RULES)}
CLEAN = len(RULES)  # the rule code of a row that breaks no rule

USERS_FILE, PRODUCTS_FILE, ORDERS_FILE, MANIFEST_FILE = (
    "Users.csv",
    "Products.csv",
    "Orders.csv",
    "manifest.json",
)
USER_COLUMNS = ("user_id", "signup_date", "country")
PRODUCT_COLUMNS = ("product_id", "category", "price")
ORDER_COLUMNS = ("order_id", "user_id", "product_id", "quantity", "total_amount", "order_ts")

ORDERS_PER_SCALE = 10_000
USERS_PER_ORDER = 0.2  # base user count at EPOCH per daily order
PRODUCTS_PER_ORDER = 0.02
USER_GROWTH_PER_DAY = 0.001
PRODUCT_GROWTH_PER_DAY = 0.0005
EPOCH = dt.date(2020, 1, 1)  # the base user set and catalogue exist from this date on
SIGNUP_HISTORY_DAYS = 3 * 365  # base users signed up during the 3 years before EPOCH

# (country, share of users). "Korea, Republic of" is the ISO short name; its comma exercises CSV quoting.
COUNTRIES = (
    ("United States", 0.27),
    ("United Kingdom", 0.10),
    ("Germany", 0.09),
    ("France", 0.07),
    ("India", 0.07),
    ("Brazil", 0.06),
    ("Canada", 0.05),
    ("Japan", 0.04),
    ("Spain", 0.04),
    ("Italy", 0.04),
    ("Australia", 0.03),
    ("Netherlands", 0.03),
    ("Mexico", 0.03),
    ("Poland", 0.02),
    ("Sweden", 0.02),
    ("Korea, Republic of", 0.02),
    ("Morocco", 0.01),
    ("Nigeria", 0.01),
)
# (category, share of the catalogue, median price in dollars). Categories are URL-safe: clicks use them in paths.
CATEGORIES = (
    ("electronics", 0.14, 120.0),
    ("clothing", 0.16, 35.0),
    ("shoes", 0.08, 70.0),
    ("home", 0.12, 45.0),
    ("books", 0.10, 15.0),
    ("beauty", 0.08, 20.0),
    ("sports", 0.08, 55.0),
    ("toys", 0.07, 25.0),
    ("grocery", 0.06, 8.0),
    ("jewelry", 0.03, 150.0),
    ("garden", 0.04, 40.0),
    ("automotive", 0.04, 60.0),
)
PRICE_SIGMA = 0.6  # log-normal spread of prices inside a category
# Share of each hour of the day in the orders (UTC): quiet nights, busy evenings.
HOURLY_WEIGHTS = np.array(
    [2, 1.5, 1, 1, 1, 1.5, 2.5, 3.5, 4.5, 5, 5.5, 6, 6.5, 6, 5.5, 5.5, 6, 6.5, 7, 7.5, 7, 6, 4.5, 3],
    dtype=float,
)

# How each file's dirty rows are split among defects (shares; duplicates are extra rows).
USER_DEFECTS = {"missing_value": 0.35, "bad_type": 0.30, "duplicate_key": 0.35}
PRODUCT_DEFECTS = {"missing_value": 0.25, "bad_type": 0.25, "non_positive_price": 0.25, "duplicate_key": 0.25}
ORDER_DEFECTS = {
    "missing_value": 0.2,
    "bad_type": 0.2,
    "bad_quantity": 0.1,
    "negative_total_amount": 0.1,
    "unknown_user": 0.1,
    "unknown_product": 0.1,
    "duplicate_key": 0.2,
}
# Values that are unmistakably not of the column's type (none of them reads as missing in pandas or Spark).
BAD_TIMESTAMPS = ("yesterday", "not-a-date", "2023/13/45 25:61", "soon")
BAD_FLOATS = ("abc", "12.3.4", "$45.00", "twelve")
BAD_INTS = ("two", "many", "x3", "one")


@dataclass(frozen=True)
class DirtyRow:
    file: str
    row: int  # 1-based data row number (the header is row 0)
    id: str
    rule: str
    detail: str


@dataclass
class FileCounts:
    rows: int
    clean_rows: int
    quarantined: dict[str, int]


@dataclass
class ShopManifest:
    date: str
    seed: int
    scale: float
    orders: int
    dirty_rate: float
    files: dict[str, FileCounts]
    expected_revenue: float
    expected_revenue_cents: int
    dirty_rows: list[DirtyRow] = field(default_factory=list)

    def to_json(self) -> str:
        # orjson serializes the dataclasses directly: a 1M-order day lists ~50k dirty rows
        return orjson.dumps(self, option=orjson.OPT_INDENT_2).decode() + "\n"

    @classmethod
    def load(cls, path: Path) -> ShopManifest:
        raw = json.loads(Path(path).read_text())
        raw["files"] = {name: FileCounts(**counts) for name, counts in raw["files"].items()}
        raw["dirty_rows"] = [DirtyRow(**row) for row in raw["dirty_rows"]]
        return cls(**raw)

    def dirty_rows_of(self, file: str) -> list[DirtyRow]:
        return [row for row in self.dirty_rows if row.file == file]


@dataclass(frozen=True)
class ShopSizes:
    orders: int
    users: int
    products: int


def shop_sizes(day: dt.date, scale: float = 1.0, orders: int | None = None) -> ShopSizes:
    """How many orders, users and products the snapshot of `day` has."""
    n_orders = int(orders) if orders is not None else round(ORDERS_PER_SCALE * scale)
    if n_orders < 1:
        raise ValueError(f"a shop day needs at least one order (scale={scale}, orders={orders})")
    age_days = max(0, (day - EPOCH).days)
    base_users = max(50, round(n_orders * USERS_PER_ORDER))
    base_products = max(20, round(n_orders * PRODUCTS_PER_ORDER))
    return ShopSizes(
        orders=n_orders,
        users=base_users + int(base_users * USER_GROWTH_PER_DAY * age_days),
        products=base_products + int(base_products * PRODUCT_GROWTH_PER_DAY * age_days),
    )


def default_out_dir(day: dt.date) -> Path:
    from shopflow_assets.settings import get_settings

    # Where the pipeline reads a day from (SHOPFLOW_SHOP_LANDING_DIR), not a path of its own.
    return get_settings().shop_landing_root / day.isoformat()


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def _pick_weighted(uniforms: np.ndarray, weights) -> np.ndarray:
    """Inverse-CDF sampling: uniform draws -> indices with the given weights (vectorized)."""
    cdf = np.cumsum(np.asarray(weights, dtype=float))
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, uniforms, side="right"), len(cdf) - 1)


def _epoch_seconds(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _split_counts(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Split `total` among kinds in proportion to shares, exactly (largest remainders, ties in order)."""
    raw = {kind: total * share / sum(shares.values()) for kind, share in shares.items()}
    counts = {kind: int(value) for kind, value in raw.items()}
    leftovers = sorted(shares, key=lambda kind: -(raw[kind] - counts[kind]))
    for kind in leftovers[: total - sum(counts.values())]:
        counts[kind] += 1
    return counts


class ShopUniverse:
    """Users and products of a day: attributes depend only on (seed, number), never on the date."""

    def __init__(self, seed: int, sizes: ShopSizes, base_users: int):
        n_users, n_products = sizes.users, sizes.products
        self.user_numbers = np.arange(1, n_users + 1)
        country_index = _pick_weighted(_stream(seed, 1, 1).random(n_users), [w for _, w in COUNTRIES])
        self.user_country = np.array([c for c, _ in COUNTRIES], dtype=object)[country_index]
        self.user_signup = self._signup_seconds(seed, n_users, base_users)
        # Buyer propensity: Pareto weights make a minority of users buy again and again.
        self.user_weight = _stream(seed, 1, 3).pareto(1.5, n_users) + 1.0

        self.product_numbers = np.arange(1, n_products + 1)
        category_index = _pick_weighted(_stream(seed, 2, 1).random(n_products), [w for _, w, _ in CATEGORIES])
        self.product_category = np.array([c for c, _, _ in CATEGORIES], dtype=object)[category_index]
        medians = np.array([m for _, _, m in CATEGORIES])[category_index]
        noise = _stream(seed, 2, 2).standard_normal(n_products)
        price = medians * np.exp(PRICE_SIGMA * noise)
        self.product_price_cents = np.maximum(49, np.round(price * 100)).astype(np.int64)
        # Popularity: heavy-tailed, so a few products sell far more than the rest.
        self.product_weight = _stream(seed, 2, 3).pareto(1.2, n_products) + 1.0

    @staticmethod
    def _signup_seconds(seed: int, n_users: int, base_users: int) -> np.ndarray:
        rng = _stream(seed, 1, 2)
        offsets = rng.random(n_users)
        index = np.arange(n_users)
        epoch = _epoch_seconds(EPOCH)
        base = epoch - SIGNUP_HISTORY_DAYS * 86400 + (offsets * SIGNUP_HISTORY_DAYS * 86400).astype(np.int64)
        # A grown user joined on the day the growth reached it; always before the snapshot's day.
        per_day = max(base_users * USER_GROWTH_PER_DAY, 1e-9)
        join_day = np.floor((index - base_users) / per_day).astype(np.int64)
        grown = epoch + join_day * 86400 + (offsets * 86400).astype(np.int64)
        return np.where(index < base_users, base, grown)


def shop_universe(
    day: dt.date, scale: float = 1.0, seed: int = 42, orders: int | None = None
) -> ShopUniverse:
    """The users and products of the shop on `day` (what clicks browse), same as that day's files."""
    sizes = shop_sizes(day, scale, orders)
    return ShopUniverse(seed, sizes, max(50, round(sizes.orders * USERS_PER_ORDER)))


def _place_duplicates(n: int, sources: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """File order of n base rows plus copies of `sources`, each copy somewhere after its source.

    Returns, for each output line, the index into concat(base rows, copies).
    """
    insert_before = sources + 1 + rng.integers(0, n - sources)  # a position in [source+1, n]
    positions = np.concatenate([np.arange(n), insert_before])
    copies_first = np.concatenate([np.ones(n, dtype=np.int8), np.zeros(len(sources), dtype=np.int8)])
    return np.lexsort((copies_first, positions))


def _choose_rows(
    rng: np.random.Generator, candidates: np.ndarray, counts: dict[str, int]
) -> dict[str, np.ndarray]:
    """Distinct rows for each defect kind, drawn from `candidates`."""
    wanted = sum(counts.values())
    if wanted > len(candidates):
        raise ValueError(f"cannot make {wanted} dirty rows out of {len(candidates)}: lower dirty_rate")
    chosen = rng.choice(candidates, size=wanted, replace=False)
    out, start = {}, 0
    for kind, count in counts.items():
        out[kind] = np.sort(chosen[start : start + count])
        start += count
    return out


def generate_shop_day(
    day: dt.date,
    out_dir: Path,
    scale: float = 1.0,
    seed: int = 42,
    dirty_rate: float = 0.02,
    orders: int | None = None,
) -> ShopManifest:
    """Write Users.csv, Products.csv, Orders.csv and manifest.json for `day` into `out_dir`."""
    if not 0 <= dirty_rate <= 0.5:
        raise ValueError(f"dirty_rate must be within [0, 0.5], got {dirty_rate}")
    out_dir = Path(out_dir)
    sizes = shop_sizes(day, scale, orders)
    base_users = max(50, round(sizes.orders * USERS_PER_ORDER))
    universe = ShopUniverse(seed, sizes, base_users)
    day_key = day.toordinal()
    dirty: list[DirtyRow] = []

    # --- users -------------------------------------------------------------------------------
    rng = _stream(seed, 10, day_key)
    n_users = sizes.users
    user_ids = csvio.prefixed_ids("usr", universe.user_numbers)
    signup = csvio.iso_utc(universe.user_signup)
    country = csvio.as_strings(universe.user_country)
    counts = _split_counts(round(dirty_rate * n_users), USER_DEFECTS)
    n_dup = counts.pop("duplicate_key")
    picked = _choose_rows(rng, np.arange(n_users), counts)
    user_defect = np.full(n_users, CLEAN, dtype=np.int8)
    detail = np.full(n_users, "", dtype=object)

    missing = picked["missing_value"]
    blank_country = rng.random(len(missing)) < 0.5
    country = csvio.replace_at(country, missing[blank_country], [""] * int(blank_country.sum()))
    signup = csvio.replace_at(signup, missing[~blank_country], [""] * int((~blank_country).sum()))
    user_defect[missing] = PRECEDENCE["missing_value"]
    detail[missing] = np.where(blank_country, "country is empty", "signup_date is empty")

    bad = picked["bad_type"]
    bad_values = np.array(BAD_TIMESTAMPS, dtype=object)[rng.integers(0, len(BAD_TIMESTAMPS), len(bad))]
    signup = csvio.replace_at(signup, bad, bad_values)
    user_defect[bad] = PRECEDENCE["bad_type"]
    detail[bad] = [f"signup_date={value!r} is not a timestamp" for value in bad_values]

    user_clean = user_defect == CLEAN
    dup_sources = np.sort(rng.choice(np.flatnonzero(user_clean), size=n_dup, replace=False))
    line_order = _place_duplicates(n_users, dup_sources, rng)
    all_rows = np.concatenate([np.arange(n_users), dup_sources])
    user_columns = {
        "user_id": csvio.take(user_ids, all_rows[line_order]),
        "signup_date": csvio.take(signup, all_rows[line_order]),
        "country": csvio.take(country, all_rows[line_order]),
    }
    dirty += _dirty_entries(
        USERS_FILE,
        line_order,
        n_users,
        user_defect,
        detail,
        dup_sources,
        user_ids,
        "an earlier row has user_id",
    )
    csvio.write_csv(out_dir / USERS_FILE, user_columns)

    # --- products ----------------------------------------------------------------------------
    rng = _stream(seed, 11, day_key)
    n_products = sizes.products
    product_ids = csvio.prefixed_ids("prd", universe.product_numbers)
    category = csvio.as_strings(universe.product_category)
    price = csvio.money(universe.product_price_cents)
    counts = _split_counts(round(dirty_rate * n_products), PRODUCT_DEFECTS)
    n_dup = counts.pop("duplicate_key")
    picked = _choose_rows(rng, np.arange(n_products), counts)
    product_defect = np.full(n_products, CLEAN, dtype=np.int8)
    detail = np.full(n_products, "", dtype=object)

    missing = picked["missing_value"]
    blank_category = rng.random(len(missing)) < 0.5
    category = csvio.replace_at(category, missing[blank_category], [""] * int(blank_category.sum()))
    price = csvio.replace_at(price, missing[~blank_category], [""] * int((~blank_category).sum()))
    product_defect[missing] = PRECEDENCE["missing_value"]
    detail[missing] = np.where(blank_category, "category is empty", "price is empty")

    bad = picked["bad_type"]
    bad_values = np.array(BAD_FLOATS, dtype=object)[rng.integers(0, len(BAD_FLOATS), len(bad))]
    price = csvio.replace_at(price, bad, bad_values)
    product_defect[bad] = PRECEDENCE["bad_type"]
    detail[bad] = [f"price={value!r} is not a number" for value in bad_values]

    non_positive = picked["non_positive_price"]
    zero = rng.random(len(non_positive)) < 0.3
    np_values = np.where(zero, "0.00", [f"-{p}" for p in csvio.take(price, non_positive).to_pylist()])
    price = csvio.replace_at(price, non_positive, np_values)
    product_defect[non_positive] = PRECEDENCE["non_positive_price"]
    detail[non_positive] = [f"price={value} is not positive" for value in np_values]

    product_clean = product_defect == CLEAN
    dup_sources = np.sort(rng.choice(np.flatnonzero(product_clean), size=n_dup, replace=False))
    # Half of the repeated products come back with a new price: the first valid row must still win.
    repriced = rng.random(n_dup) < 0.5
    dup_price_cents = np.where(
        repriced,
        np.maximum(49, universe.product_price_cents[dup_sources] + rng.integers(-500, 500, n_dup)),
        universe.product_price_cents[dup_sources],
    )
    line_order = _place_duplicates(n_products, dup_sources, rng)
    all_rows = np.concatenate([np.arange(n_products), dup_sources])
    all_price = pa.concat_arrays([price, csvio.money(dup_price_cents)])
    product_columns = {
        "product_id": csvio.take(product_ids, all_rows[line_order]),
        "category": csvio.take(category, all_rows[line_order]),
        "price": csvio.take(all_price, line_order),
    }
    dirty += _dirty_entries(
        PRODUCTS_FILE,
        line_order,
        n_products,
        product_defect,
        detail,
        dup_sources,
        product_ids,
        "an earlier row has product_id",
    )
    csvio.write_csv(out_dir / PRODUCTS_FILE, product_columns)

    # --- orders ------------------------------------------------------------------------------
    rng = _stream(seed, 12, day_key)
    n_orders = sizes.orders
    buyer = _pick_weighted(rng.random(n_orders), universe.user_weight)
    item = _pick_weighted(rng.random(n_orders), universe.product_weight)
    quantity = np.minimum(rng.geometric(0.65, n_orders), 10)
    hour = _pick_weighted(rng.random(n_orders), HOURLY_WEIGHTS)
    seconds = np.sort(hour * 3600 + rng.integers(0, 3600, n_orders))  # order ids follow time
    total_cents = quantity * universe.product_price_cents[item]

    width = max(5, len(str(n_orders)))
    order_ids = csvio.prefixed_ids(f"ord{day:%Y%m%d}", np.arange(1, n_orders + 1), width)
    order_user = csvio.prefixed_ids("usr", buyer + 1)
    order_product = csvio.prefixed_ids("prd", item + 1)
    quantity_text = csvio.as_strings(pa.array(quantity).cast(pa.large_string()))
    total_text = csvio.money(total_cents)
    order_ts = csvio.iso_utc(_epoch_seconds(day) + seconds)

    counts = _split_counts(round(dirty_rate * n_orders), ORDER_DEFECTS)
    n_dup = counts.pop("duplicate_key")
    picked = _choose_rows(rng, np.arange(n_orders), counts)
    rule = np.full(n_orders, CLEAN, dtype=np.int8)
    blank_user = np.zeros(n_orders, dtype=bool)
    blank_product = np.zeros(n_orders, dtype=bool)
    detail = np.full(n_orders, "", dtype=object)

    missing = picked["missing_value"]
    blank_column = rng.integers(0, 5, len(missing))  # which of the five non-key columns is empty
    columns = [order_user, order_product, quantity_text, total_text, order_ts]
    names = ORDER_COLUMNS[1:]
    for position, name in enumerate(names):
        rows = missing[blank_column == position]
        columns[position] = csvio.replace_at(columns[position], rows, [""] * len(rows))
        rule[rows] = PRECEDENCE["missing_value"]
        detail[rows] = f"{name} is empty"
        if name == "user_id":
            blank_user[rows] = True
        elif name == "product_id":
            blank_product[rows] = True
    order_user, order_product, quantity_text, total_text, order_ts = columns

    bad = picked["bad_type"]
    bad_column = rng.integers(0, 3, len(bad))
    for position, (name, vocabulary, kind) in enumerate(
        (
            ("quantity", BAD_INTS, "an integer"),
            ("total_amount", BAD_FLOATS, "a number"),
            ("order_ts", BAD_TIMESTAMPS, "a timestamp"),
        )
    ):
        rows = bad[bad_column == position]
        values = np.array(vocabulary, dtype=object)[rng.integers(0, len(vocabulary), len(rows))]
        if name == "quantity":
            quantity_text = csvio.replace_at(quantity_text, rows, values)
        elif name == "total_amount":
            total_text = csvio.replace_at(total_text, rows, values)
        else:
            order_ts = csvio.replace_at(order_ts, rows, values)
        rule[rows] = PRECEDENCE["bad_type"]
        detail[rows] = [f"{name}={value!r} is not {kind}" for value in values]

    rows = picked["bad_quantity"]
    bad_quantities = rng.choice(np.array([0, -1, -2]), size=len(rows))
    quantity_text = csvio.replace_at(quantity_text, rows, bad_quantities.astype(str))
    # The total follows the bad quantity (0 or negative): bad_quantity comes first in precedence.
    total_text = csvio.replace_at(
        total_text, rows, csvio.money(bad_quantities * universe.product_price_cents[item[rows]]).to_pylist()
    )
    rule[rows] = PRECEDENCE["bad_quantity"]
    detail[rows] = [f"quantity={q} is below 1" for q in bad_quantities]

    rows = picked["negative_total_amount"]
    total_text = csvio.replace_at(total_text, rows, csvio.money(-total_cents[rows]).to_pylist())
    rule[rows] = PRECEDENCE["negative_total_amount"]
    detail[rows] = "total_amount is negative"

    rows = picked["unknown_user"]
    strangers = n_users + 1 + rng.integers(0, 10 * n_users, len(rows))
    order_user = csvio.replace_at(order_user, rows, csvio.prefixed_ids("usr", strangers).to_pylist())
    rule[rows] = PRECEDENCE["unknown_user"]
    detail[rows] = [f"user_id=usr{s} is not in Users.csv" for s in strangers]

    rows = picked["unknown_product"]
    strangers = n_products + 1 + rng.integers(0, 10 * n_products, len(rows))
    order_product = csvio.replace_at(order_product, rows, csvio.prefixed_ids("prd", strangers).to_pylist())
    rule[rows] = PRECEDENCE["unknown_product"]
    detail[rows] = [f"product_id=prd{s} is not in Products.csv" for s in strangers]

    # Cascade: an order whose user/product row is dirty breaks unknown_user/unknown_product, unless it
    # already breaks a rule of higher precedence (a blank id is missing_value, not unknown).
    cascade_user = ~user_clean[buyer] & ~blank_user & (rule > PRECEDENCE["unknown_user"])
    rule[cascade_user] = PRECEDENCE["unknown_user"]
    detail[cascade_user] = [f"user usr{b + 1} is quarantined in Users.csv" for b in buyer[cascade_user]]
    cascade_product = ~product_clean[item] & ~blank_product & (rule > PRECEDENCE["unknown_product"])
    rule[cascade_product] = PRECEDENCE["unknown_product"]
    detail[cascade_product] = [
        f"product prd{i + 1} is quarantined in Products.csv" for i in item[cascade_product]
    ]

    order_clean = rule == CLEAN
    dup_sources = np.sort(rng.choice(np.flatnonzero(order_clean), size=n_dup, replace=False))
    line_order = _place_duplicates(n_orders, dup_sources, rng)
    all_rows = np.concatenate([np.arange(n_orders), dup_sources])
    taken = all_rows[line_order]
    order_columns = {
        "order_id": csvio.take(order_ids, taken),
        "user_id": csvio.take(order_user, taken),
        "product_id": csvio.take(order_product, taken),
        "quantity": csvio.take(quantity_text, taken),
        "total_amount": csvio.take(total_text, taken),
        "order_ts": csvio.take(order_ts, taken),
    }
    dirty += _dirty_entries(
        ORDERS_FILE, line_order, n_orders, rule, detail, dup_sources, order_ids, "an earlier row has order_id"
    )
    csvio.write_csv(out_dir / ORDERS_FILE, order_columns)

    revenue_cents = int(total_cents[order_clean].sum())
    files = {
        USERS_FILE: _file_counts(dirty, USERS_FILE, len(user_columns["user_id"])),
        PRODUCTS_FILE: _file_counts(dirty, PRODUCTS_FILE, len(product_columns["product_id"])),
        ORDERS_FILE: _file_counts(dirty, ORDERS_FILE, len(order_columns["order_id"])),
    }
    manifest = ShopManifest(
        date=day.isoformat(),
        seed=seed,
        scale=scale,
        orders=n_orders,
        dirty_rate=dirty_rate,
        files=files,
        expected_revenue=round(revenue_cents / 100, 2),
        expected_revenue_cents=revenue_cents,
        dirty_rows=dirty,
    )
    (out_dir / MANIFEST_FILE).write_text(manifest.to_json())
    return manifest


def _dirty_entries(
    file: str,
    line_order: np.ndarray,
    n_base: int,
    rule: np.ndarray,
    detail: np.ndarray,
    dup_sources: np.ndarray,
    ids: pa.Array,
    dup_detail: str,
) -> list[DirtyRow]:
    """Manifest entries for a file: base rows with a rule plus every inserted copy, in file order."""
    line_of = np.empty(len(line_order), dtype=np.int64)
    line_of[line_order] = np.arange(1, len(line_order) + 1)
    ids_list = ids.to_numpy(zero_copy_only=False)
    entries = []
    for row in np.flatnonzero(rule != CLEAN):
        entries.append(
            DirtyRow(file, int(line_of[row]), str(ids_list[row]), RULES[rule[row]], str(detail[row]))
        )
    for copy, source in enumerate(dup_sources):
        key = str(ids_list[source])
        entries.append(
            DirtyRow(
                file,
                int(line_of[n_base + copy]),
                key,
                "duplicate_key",
                f"{dup_detail} {key} (row {line_of[source]})",
            )
        )
    entries.sort(key=lambda entry: entry.row)
    return entries


def _file_counts(dirty: list[DirtyRow], file: str, rows: int) -> FileCounts:
    quarantined: dict[str, int] = {}
    for entry in dirty:
        if entry.file == file:
            quarantined[entry.rule] = quarantined.get(entry.rule, 0) + 1
    ordered = {rule: quarantined[rule] for rule in RULES if rule in quarantined}
    return FileCounts(rows=rows, clean_rows=rows - sum(ordered.values()), quarantined=ordered)


def generate_shop_days(
    start: dt.date,
    days: int,
    out_root: Path | None = None,
    scale: float = 1.0,
    seed: int = 42,
    dirty_rate: float = 0.02,
    orders: int | None = None,
) -> list[tuple[Path, ShopManifest]]:
    """Generate `days` consecutive days from `start`; each into `<out_root>/YYYY-MM-DD` (default home)."""
    results = []
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        out_dir = (Path(out_root) / day.isoformat()) if out_root else default_out_dir(day)
        results.append((out_dir, generate_shop_day(day, out_dir, scale, seed, dirty_rate, orders)))
    return results
