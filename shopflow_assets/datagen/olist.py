"""Olist-shaped marketplace data: the nine Kaggle CSV files, referentially consistent, with the
real column names (misspellings included), formats, quirks and distributions (docs/datagen.md).

Scale 1 is the real size: 99,441 orders, ~112k items, 32,951 products, 3,095 sellers, ~1M geolocation
rows. The manifest records the counts, the quirks of each file and every orphaned foreign key planted on
purpose, so loaders and tests know what to expect. Every Olist flow can read the real Kaggle folder
instead: the file names and formats are the same.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow_assets.contracts import marketplace as marketplace_contract
from shopflow_assets.datagen import csvio

ORDERS = "olist_orders_dataset.csv"
ORDER_ITEMS = "olist_order_items_dataset.csv"
CUSTOMERS = "olist_customers_dataset.csv"
PRODUCTS = "olist_products_dataset.csv"
SELLERS = "olist_sellers_dataset.csv"
PAYMENTS = "olist_order_payments_dataset.csv"
REVIEWS = "olist_order_reviews_dataset.csv"
GEOLOCATION = "olist_geolocation_dataset.csv"
TRANSLATION = "product_category_name_translation.csv"
FILES = (ORDERS, ORDER_ITEMS, CUSTOMERS, PRODUCTS, SELLERS, PAYMENTS, REVIEWS, GEOLOCATION, TRANSLATION)

# The column order of each file is the marketplace contract's: one definition per dataset.
COLUMNS = {f"{table.csv_name}.csv": tuple(table.columns) for table in marketplace_contract.ALL_TABLES}

# How each file is written. The real translation file starts with a UTF-8 BOM; the reviews file quotes
# comments that hold commas, quotes or line breaks; we also quote every text value of the sellers file and
# put a BOM on it so a loader has to cope with both styles.
QUIRKS = {
    ORDERS: "unquoted; empty string for a missing timestamp",
    ORDER_ITEMS: "unquoted",
    CUSTOMERS: "unquoted; zip prefixes keep their leading zeros",
    PRODUCTS: "unquoted; products without a category have empty category, name/description lengths and photos",
    SELLERS: "UTF-8 BOM; every non-empty value quoted",
    PAYMENTS: "unquoted; a few credit-card rows with 0 installments; not_defined payments of 0.00",
    REVIEWS: "comments quoted when they hold commas, quotes or line breaks (multi-line records); empty comments",
    GEOLOCATION: "several rows per zip prefix; city names with and without accents",
    TRANSLATION: "UTF-8 BOM; two categories have no English name",
}
BOM_FILES = frozenset({TRANSLATION, SELLERS})
QUOTE_ALL = {SELLERS: frozenset(COLUMNS[SELLERS])}

REAL_SIZES = {
    "orders": 99_441,
    "products": 32_951,
    "sellers": 3_095,
    "geolocation": 1_000_163,
    "zip_prefixes": 19_015,
}
FIRST_PURCHASE = dt.datetime(2016, 9, 4, 21, 15, 19)
LAST_PURCHASE = dt.datetime(2018, 10, 17, 17, 30, 18)

# (Portuguese category, English name or None, share of the catalogue). 73 categories, 71 translated.
CATEGORIES = (
    ("cama_mesa_banho", "bed_bath_table", 9.2),
    ("esporte_lazer", "sports_leisure", 8.7),
    ("moveis_decoracao", "furniture_decor", 8.4),
    ("beleza_saude", "health_beauty", 7.4),
    ("utilidades_domesticas", "housewares", 7.1),
    ("automotivo", "auto", 5.8),
    ("informatica_acessorios", "computers_accessories", 5.8),
    ("brinquedos", "toys", 4.4),
    ("relogios_presentes", "watches_gifts", 4.7),
    ("telefonia", "telephony", 4.4),
    ("bebes", "baby", 2.8),
    ("perfumaria", "perfumery", 2.6),
    ("fashion_bolsas_e_acessorios", "fashion_bags_accessories", 2.6),
    ("papelaria", "stationery", 2.6),
    ("cool_stuff", "cool_stuff", 2.4),
    ("ferramentas_jardim", "garden_tools", 2.3),
    ("pet_shop", "pet_shop", 2.1),
    ("eletronicos", "electronics", 1.6),
    ("construcao_ferramentas_construcao", "construction_tools_construction", 1.2),
    ("eletroportateis", "small_appliances", 0.7),
    ("malas_acessorios", "luggage_accessories", 1.0),
    ("consoles_games", "consoles_games", 1.0),
    ("moveis_escritorio", "office_furniture", 0.9),
    ("instrumentos_musicais", "musical_instruments", 0.9),
    ("casa_construcao", "home_construction", 0.7),
    ("livros_interesse_geral", "books_general_interest", 0.9),
    ("fashion_calcados", "fashion_shoes", 0.8),
    ("moveis_sala", "furniture_living_room", 0.5),
    ("climatizacao", "air_conditioning", 0.4),
    ("livros_tecnicos", "books_technical", 0.4),
    ("telefonia_fixa", "fixed_telephony", 0.35),
    ("casa_conforto", "home_confort", 0.3),
    ("fashion_roupa_masculina", "fashion_male_clothing", 0.3),
    ("moveis_cozinha_area_de_servico_jantar_e_jardim", "kitchen_dining_laundry_garden_furniture", 0.3),
    ("alimentos", "food", 0.25),
    ("alimentos_bebidas", "food_drink", 0.3),
    ("audio", "audio", 0.2),
    ("eletrodomesticos", "home_appliances", 0.25),
    ("construcao_ferramentas_seguranca", "construction_tools_safety", 0.2),
    ("construcao_ferramentas_iluminacao", "construction_tools_lights", 0.25),
    ("industria_comercio_e_negocios", "industry_commerce_and_business", 0.2),
    ("bebidas", "drinks", 0.25),
    ("agro_industria_e_comercio", "agro_industry_and_commerce", 0.2),
    ("construcao_ferramentas_jardim", "costruction_tools_garden", 0.25),
    ("artigos_de_natal", "christmas_supplies", 0.4),
    ("tablets_impressao_imagem", "tablets_printing_image", 0.03),
    ("moveis_quarto", "furniture_bedroom", 0.15),
    ("eletrodomesticos_2", "home_appliances_2", 0.2),
    ("construcao_ferramentas_ferramentas", "costruction_tools_tools", 0.1),
    ("portateis_casa_forno_e_cafe", "small_appliances_home_oven_and_coffee", 0.1),
    ("market_place", "market_place", 0.3),
    ("livros_importados", "books_imported", 0.15),
    ("sinalizacao_e_seguranca", "signaling_and_security", 0.3),
    ("fashion_underwear_e_moda_praia", "fashion_underwear_beach", 0.16),
    ("artes", "art", 0.17),
    ("fashion_roupa_feminina", "fashio_female_clothing", 0.11),
    ("moveis_colchao_e_estofado", "furniture_mattress_and_upholstery", 0.03),
    ("artigos_de_festas", "party_supplies", 0.08),
    ("cine_foto", "cine_photo", 0.09),
    ("pcs", "computers", 0.09),
    ("musica", "music", 0.09),
    ("dvds_blu_ray", "dvds_blu_ray", 0.15),
    ("fashion_esporte", "fashion_sport", 0.06),
    ("artes_e_artesanato", "arts_and_craftmanship", 0.06),
    ("flores", "flowers", 0.04),
    ("casa_conforto_2", "home_comfort_2", 0.04),
    ("fraldas_higiene", "diapers_and_hygiene", 0.04),
    ("la_cuisine", "la_cuisine", 0.03),
    ("cds_dvds_musicais", "cds_dvds_musicals", 0.01),
    ("fashion_roupa_infanto_juvenil", "fashion_childrens_clothes", 0.02),
    ("seguros_e_servicos", "security_and_services", 0.01),
    ("pc_gamer", None, 0.03),
    ("portateis_cozinha_e_preparadores_de_alimentos", None, 0.05),
)
NO_CATEGORY_SHARE = 0.0185

# (state, capital with accents, share of customers, share of sellers, first and last zip prefix, lat, lng)
STATES = (
    ("SP", "São Paulo", 42.0, 59.7, 1000, 19999, -23.0, -47.0),
    ("RJ", "Rio de Janeiro", 12.9, 5.5, 20000, 28999, -22.5, -43.2),
    ("MG", "Belo Horizonte", 11.7, 7.9, 30000, 39999, -19.5, -44.5),
    ("RS", "Porto Alegre", 5.5, 4.2, 90000, 99999, -30.0, -51.7),
    ("PR", "Curitiba", 5.1, 11.2, 80000, 87999, -24.8, -50.8),
    ("SC", "Florianópolis", 3.7, 6.1, 88000, 89999, -27.2, -49.5),
    ("BA", "Salvador", 3.4, 0.6, 40000, 48999, -12.8, -40.0),
    ("DF", "Brasília", 2.2, 0.9, 70000, 73699, -15.8, -47.9),
    ("ES", "Vitória", 2.0, 0.7, 29000, 29999, -20.0, -40.5),
    ("GO", "Goiânia", 2.0, 1.3, 74000, 76799, -16.5, -49.5),
    ("PE", "Recife", 1.7, 0.3, 50000, 56999, -8.3, -35.5),
    ("CE", "Fortaleza", 1.3, 0.4, 60000, 63999, -4.5, -39.0),
    ("PA", "Belém", 1.0, 0.05, 66000, 68899, -2.5, -48.5),
    ("MT", "Cuiabá", 0.9, 0.1, 78000, 78899, -15.0, -56.0),
    ("MA", "São Luís", 0.75, 0.05, 65000, 65999, -4.0, -44.5),
    ("MS", "Campo Grande", 0.7, 0.15, 79000, 79999, -20.5, -54.6),
    ("PB", "João Pessoa", 0.55, 0.2, 58000, 58999, -7.2, -36.0),
    ("PI", "Teresina", 0.5, 0.05, 64000, 64999, -6.5, -42.5),
    ("RN", "Natal", 0.5, 0.2, 59000, 59999, -5.8, -36.5),
    ("AL", "Maceió", 0.4, 0.05, 57000, 57999, -9.6, -36.0),
    ("SE", "Aracaju", 0.35, 0.05, 49000, 49999, -10.8, -37.2),
    ("TO", "Palmas", 0.3, 0.02, 77000, 77999, -10.2, -48.3),
    ("RO", "Porto Velho", 0.25, 0.05, 76800, 76999, -10.5, -63.0),
    ("AM", "Manaus", 0.15, 0.03, 69000, 69299, -3.1, -60.0),
    ("AC", "Rio Branco", 0.08, 0.03, 69900, 69999, -9.5, -68.5),
    ("AP", "Macapá", 0.07, 0.01, 68900, 68999, 0.5, -51.5),
    ("RR", "Boa Vista", 0.05, 0.01, 69300, 69399, 2.5, -60.8),
)
CAPITAL_SHARE = 0.35  # share of a state's people living in its capital

STATUSES = (
    ("delivered", 97.02),
    ("shipped", 1.11),
    ("canceled", 0.63),
    ("unavailable", 0.61),
    ("invoiced", 0.32),
    ("processing", 0.30),
    ("created", 0.005),
    ("approved", 0.002),
)
# Items per order (1..21): close to the real histogram (mean ~1.15-1.18 over orders with items).
ITEMS_PER_ORDER = {1: 88.5, 2: 7.6, 3: 1.5, 4: 0.6, 5: 0.35, 6: 0.35, 7: 0.1, 8: 0.07, 9: 0.04, 10: 0.05}
ITEMS_PER_ORDER.update({n: 0.01 for n in range(11, 22)})
PAYMENT_TYPES = (("credit_card", 0.766), ("boleto", 0.198), ("debit_card", 0.015), ("voucher", 0.021))
VOUCHER_SPLIT_SHARE = 0.027  # orders paid partly with one or more vouchers
INSTALLMENTS = {1: 33, 2: 16, 3: 13.5, 4: 9.5, 5: 7, 6: 5.4, 7: 2.2, 8: 5.8, 9: 0.8, 10: 7.2}
INSTALLMENTS.update(
    {12: 0.18, 15: 0.1, 18: 0.04, 24: 0.03, 11: 0.03, 13: 0.02, 14: 0.02, 16: 0.01, 17: 0.01, 20: 0.02}
)
REVIEW_SCORES = (1, 2, 3, 4, 5)
SCORES_ON_TIME = (0.07, 0.025, 0.08, 0.20, 0.625)
SCORES_LATE = (0.52, 0.09, 0.12, 0.10, 0.17)
REVIEW_TITLES = (
    "Recomendo",
    "Ótimo",
    "Muito bom",
    "Excelente",
    "Não recebi",
    "Péssimo",
    "Bom",
    "Super recomendo",
)
REVIEW_MESSAGES = (
    "Produto chegou antes do prazo, recomendo",
    "Muito bom, chegou tudo certo.",
    "Ainda não recebi o produto",
    "Veio diferente do anunciado, estou aguardando a troca",
    "Ótimo produto, entrega rápida!",
    'Comprei 2 unidades e recebi apenas 1. "Aguardo retorno"',
    "Gostei muito.\nRecomendo a loja",
    "Produto de qualidade, porém a embalagem veio amassada",
    "Entrega atrasou, mas o produto é bom",
    "Não gostei, material fraco",
    "Tudo ok",
    "Excelente vendedor,\r\nsuper atencioso",
)


@dataclass
class OlistManifest:
    scale: float
    seed: int
    rows: dict[str, int]
    quirks: dict[str, str]
    # "file.column -> file.column": the foreign keys that point nowhere, on purpose
    orphans: dict[str, list[str]] = field(default_factory=dict)
    untranslated_categories: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def load(cls, path: Path) -> OlistManifest:
        return cls(**json.loads(Path(path).read_text()))


def default_out_dir() -> Path:
    from shopflow_assets.settings import get_settings

    return get_settings().olist_csv_root  # where the pipeline reads them (SHOPFLOW_OLIST_CSV_DIR)


def _unaccent(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _pick(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    cdf = np.cumsum(np.asarray(weights, dtype=float))
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 32-hex-digit ids (like Olist's md5-looking keys), as a NumPy unicode array."""
    return np.frombuffer(rng.bytes(16 * n).hex().encode(), dtype="S32").astype("U32")


def _timestamps(seconds: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """Naive 'YYYY-MM-DD HH:MM:SS' (Olist's format); '' where not present."""
    text = csvio.iso_utc(np.asarray(seconds, dtype=np.int64), "%Y-%m-%d %H:%M:%S")
    if present is None:
        return text
    return csvio.as_strings(pc.if_else(pa.array(present), text, csvio.lit("")))


def _decimal(values: np.ndarray) -> pa.Array:
    return csvio.money(np.round(np.asarray(values) * 100).astype(np.int64))


def _ints(values: np.ndarray) -> pa.Array:
    return csvio.as_strings(pa.array(np.asarray(values, dtype=np.int64)).cast(pa.large_string()))


def _city_vocabulary(seed: int) -> np.ndarray:
    """Small-town names (Faker's pt_BR vocabulary, lower-cased and unaccented like Olist's cities)."""
    from faker import Faker

    fake = Faker("pt_BR")
    fake.seed_instance(seed)
    names = sorted({fake.city() for _ in range(600)})
    return np.array(names, dtype=object)


def _purchase_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Purchase times following Olist's history: a trickle in late 2016, growth through 2017 with a
    Black Friday spike, a plateau in 2018 and a thin tail after August 2018."""
    start = np.datetime64(FIRST_PURCHASE.date())
    days = np.arange(start, np.datetime64(LAST_PURCHASE.date()) + 1)
    day_numbers = (days - np.datetime64("2017-01-01")).astype(int)
    intensity = np.where(day_numbers < 0, 0.02, np.clip(0.15 + day_numbers / 330, 0.15, 1.1))
    intensity = np.where(days > np.datetime64("2018-08-31"), 0.004, intensity)
    intensity = np.where(days == np.datetime64("2017-11-24"), 8.0, intensity)
    day_index = _pick(rng, n, intensity)
    hour_weights = (
        1.5,
        0.8,
        0.4,
        0.3,
        0.2,
        0.3,
        0.8,
        2,
        3.5,
        5,
        6,
        6.2,
        6,
        6,
        6.2,
        6,
        6,
        5.7,
        5.5,
        5.8,
        6,
        6,
        5.5,
        4,
    )
    seconds_of_day = _pick(rng, n, hour_weights) * 3600 + rng.integers(0, 3600, n)
    base = (days[day_index] - np.datetime64("1970-01-01")).astype(np.int64) * 86400
    return base + seconds_of_day


def generate_olist(out_dir: Path | None = None, scale: float = 1.0, seed: int = 42) -> OlistManifest:
    """Write the nine Olist CSV files and manifest.json into out_dir (default home/incoming/olist)."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out_dir = Path(out_dir) if out_dir else default_out_dir()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4004]))
    n_orders = max(20, round(REAL_SIZES["orders"] * scale))
    n_products = max(10, round(REAL_SIZES["products"] * scale))
    n_sellers = max(3, round(REAL_SIZES["sellers"] * scale))
    n_prefixes = max(len(STATES), round(REAL_SIZES["zip_prefixes"] * scale))
    n_orphans = max(1, round(5 * scale))
    towns = _city_vocabulary(seed)
    state_codes = np.array([s[0] for s in STATES], dtype=object)

    # --- places: zip prefixes with their state, city and centre ----------------------------------
    # every state has at least one prefix, however small the scale
    prefix_state = np.concatenate(
        [np.arange(len(STATES)), _pick(rng, n_prefixes - len(STATES), [s[2] + s[3] for s in STATES])]
    )
    lows = np.array([s[4] for s in STATES])[prefix_state]
    highs = np.array([s[5] for s in STATES])[prefix_state]
    prefix_code = lows + (rng.random(n_prefixes) * (highs - lows)).astype(np.int64)
    # zip prefixes are unique: drop the draws that landed on a prefix already taken
    _, first = np.unique(prefix_code, return_index=True)
    first.sort()
    prefix_state, lows, highs, prefix_code = (
        prefix_state[first],
        lows[first],
        highs[first],
        prefix_code[first],
    )
    n_prefixes = len(first)
    in_capital = prefix_code < lows + (highs - lows) * 0.1  # capitals hold the low prefixes of a state
    capital_names = np.array([s[1] for s in STATES], dtype=object)
    prefix_city_accented = np.where(
        in_capital, capital_names[prefix_state], towns[rng.integers(0, len(towns), n_prefixes)]
    )
    prefix_city = np.array([_unaccent(name).lower() for name in prefix_city_accented], dtype=object)
    prefix_lat = np.array([s[6] for s in STATES])[prefix_state] + rng.normal(0, 1.2, n_prefixes)
    prefix_lng = np.array([s[7] for s in STATES])[prefix_state] + rng.normal(0, 1.2, n_prefixes)

    def people_in(n: int, column: int) -> np.ndarray:
        """Zip-prefix indices for n people, by state share (column 2 customers, 3 sellers), capitals first."""
        states = _pick(rng, n, [s[column] for s in STATES])
        chosen = np.empty(n, dtype=np.int64)
        for state in np.unique(states):
            members = np.flatnonzero(prefix_state == state)
            capital = members[in_capital[members]]
            here = np.flatnonzero(states == state)
            use_capital = (rng.random(len(here)) < CAPITAL_SHARE) & (len(capital) > 0)
            pool_capital = capital if len(capital) else members
            chosen[here] = np.where(
                use_capital,
                pool_capital[rng.integers(0, len(pool_capital), len(here))],
                members[rng.integers(0, len(members), len(here))],
            )
        return chosen

    # --- products ------------------------------------------------------------------------------
    product_ids = _hex_ids(rng, n_products)
    category_index = _pick(rng, n_products, [c[2] for c in CATEGORIES])
    category_names = np.array([c[0] for c in CATEGORIES], dtype=object)
    no_category = rng.random(n_products) < NO_CATEGORY_SHARE
    product_category = np.where(no_category, "", category_names[category_index])
    # price per product: log-Student-t around 75 reproduces Olist's median/p90/p99 of item prices
    log_price = np.log(75) + 0.78 * rng.standard_t(6, n_products)
    product_price = np.clip(np.round(np.exp(log_price), 2), 0.85, 6735.0)
    weight_g = np.clip(
        np.round(
            np.exp(np.log(700) + 1.1 * rng.standard_normal(n_products) + 0.3 * (log_price - np.log(75)))
        ),
        0,
        40425,
    )
    length_cm = np.clip(np.round(np.cbrt(weight_g) * rng.uniform(1.2, 2.2, n_products)), 7, 105)
    height_cm = np.clip(np.round(np.cbrt(weight_g) * rng.uniform(0.5, 1.4, n_products)), 2, 105)
    width_cm = np.clip(np.round(np.cbrt(weight_g) * rng.uniform(0.9, 1.6, n_products)), 6, 118)
    # sales per product: heavy-tailed but no product above ~0.5% of the items, as in Olist
    popularity = rng.pareto(2.0, n_products) + 1.0

    def blank_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
        return csvio.as_strings(pc.if_else(pa.array(mask), csvio.lit(""), values))

    products = {
        "product_id": product_ids,
        "product_category_name": product_category,
        "product_name_lenght": blank_where(
            _ints(np.clip(rng.normal(48, 10, n_products), 5, 76)), no_category
        ),
        "product_description_lenght": blank_where(
            _ints(np.exp(rng.normal(6.4, 0.75, n_products)).clip(4, 3992)), no_category
        ),
        "product_photos_qty": blank_where(_ints(np.minimum(rng.geometric(0.5, n_products), 20)), no_category),
        "product_weight_g": _ints(weight_g),
        "product_length_cm": _ints(length_cm),
        "product_height_cm": _ints(height_cm),
        "product_width_cm": _ints(width_cm),
    }
    # one product without dimensions at all, as in the real file
    no_dimensions = rng.integers(0, n_products)
    for column in ("product_weight_g", "product_length_cm", "product_height_cm", "product_width_cm"):
        products[column] = csvio.replace_at(products[column], np.array([no_dimensions]), [""])

    # --- sellers -------------------------------------------------------------------------------
    seller_ids = _hex_ids(rng, n_sellers)
    seller_place = people_in(n_sellers, 3)
    seller_size = rng.pareto(1.0, n_sellers) + 1.0  # a few sellers carry a large share of the sales
    sellers = {
        "seller_id": seller_ids,
        "seller_zip_code_prefix": csvio.prefixed_ids("", prefix_code[seller_place], 5),
        "seller_city": prefix_city[seller_place],
        "seller_state": state_codes[prefix_state[seller_place]],
    }
    product_seller = _pick(rng, n_products, seller_size)

    # --- customers and orders ------------------------------------------------------------------
    order_ids = _hex_ids(rng, n_orders)
    customer_ids = _hex_ids(rng, n_orders)  # Olist issues a customer_id per order
    n_people = int(n_orders * 0.966)
    people_ids = _hex_ids(rng, n_people)
    person = np.concatenate([np.arange(n_people), rng.integers(0, n_people, n_orders - n_people)])
    rng.shuffle(person)
    person_place = people_in(n_people, 2)
    customer_place = person_place[person]
    # customers whose zip prefix is not in the geolocation file (a real orphan)
    geo_missing_places = np.unique(customer_place[rng.choice(n_orders, n_orphans, replace=False)])
    customers = {
        "customer_id": customer_ids,
        "customer_unique_id": people_ids[person],
        "customer_zip_code_prefix": csvio.prefixed_ids("", prefix_code[customer_place], 5),
        "customer_city": prefix_city[customer_place],
        "customer_state": state_codes[prefix_state[customer_place]],
    }

    status = np.array([s for s, _ in STATUSES], dtype=object)[_pick(rng, n_orders, [w for _, w in STATUSES])]
    purchase = _purchase_seconds(rng, n_orders)
    approve_delay = np.exp(rng.normal(np.log(20 * 60), 1.6, n_orders)).clip(30, 30 * 86400).astype(np.int64)
    approved = purchase + approve_delay
    carrier = approved + np.exp(rng.normal(np.log(2.2 * 86400), 0.8, n_orders)).clip(3600, 60 * 86400).astype(
        np.int64
    )
    # purchase -> delivery: median ~10 days, p90 ~23
    delivery_days = np.exp(rng.normal(np.log(10), 0.65, n_orders)).clip(1, 200)
    delivered = np.maximum(purchase + (delivery_days * 86400).astype(np.int64), carrier + 3600)
    purchase_day = purchase // 86400 * 86400
    slack_days = np.round(rng.normal(9.5, 7, n_orders))  # ~92% delivered on or before the estimate
    delivered_day_number = (delivered - purchase_day) // 86400
    estimated = purchase_day + (np.maximum(delivered_day_number + slack_days, 2)).astype(np.int64) * 86400

    is_delivered = status == "delivered"
    has_approval = ~np.isin(status, ["created"]) & ~((status == "canceled") & (rng.random(n_orders) < 0.2))
    has_approval &= ~(is_delivered & (rng.random(n_orders) < 0.0015))  # a few delivered orders lack approval
    has_carrier = (
        is_delivered | (status == "shipped") | ((status == "canceled") & (rng.random(n_orders) < 0.1))
    )
    has_delivery = is_delivered & (rng.random(n_orders) > 0.0001)
    orders = {
        "order_id": order_ids,
        "customer_id": customer_ids,
        "order_status": status,
        "order_purchase_timestamp": _timestamps(purchase),
        "order_approved_at": _timestamps(approved, has_approval),
        "order_delivered_carrier_date": _timestamps(carrier, has_carrier),
        "order_delivered_customer_date": _timestamps(delivered, has_delivery),
        "order_estimated_delivery_date": _timestamps(estimated),
    }

    # --- order items -----------------------------------------------------------------------------
    has_items = ~np.isin(status, ["unavailable", "created"]) & ~(
        (status == "canceled") & (rng.random(n_orders) < 0.3)
    )
    counts = np.array(list(ITEMS_PER_ORDER))[_pick(rng, n_orders, list(ITEMS_PER_ORDER.values()))]
    counts = np.where(has_items, counts, 0)
    item_order = np.repeat(np.arange(n_orders), counts)
    first_of_order = np.concatenate([[0], np.cumsum(counts)[:-1]])
    item_number = np.arange(len(item_order)) - np.repeat(first_of_order, counts) + 1
    item_product = _pick(rng, len(item_order), popularity)
    # extra items of an order are often more units of its first product
    same_as_first = (item_number > 1) & (rng.random(len(item_order)) < 0.6)
    first_product = item_product[np.repeat(first_of_order, counts)]
    item_product = np.where(same_as_first, first_product, item_product)
    item_seller = product_seller[item_product]
    item_price = np.round(product_price[item_product] * np.exp(rng.normal(0, 0.03, len(item_order))), 2).clip(
        0.85, 6735.0
    )
    freight = np.exp(
        rng.normal(np.log(16), 0.55, len(item_order)) + 0.12 * np.log(weight_g[item_product] / 700 + 0.05)
    )
    freight = np.where(rng.random(len(item_order)) < 0.003, 0.0, np.round(freight.clip(0, 410), 2))
    shipping_limit = approved[item_order] + (6 * 86400 + rng.integers(0, 86400, len(item_order)))
    items = {
        "order_id": order_ids[item_order],
        "order_item_id": _ints(item_number),
        "product_id": product_ids[item_product],
        "seller_id": seller_ids[item_seller],
        "shipping_limit_date": _timestamps(shipping_limit),
        "price": _decimal(item_price),
        "freight_value": _decimal(freight),
    }
    # orphans: item rows whose product or seller is missing from its file
    orphan_item_rows = rng.choice(len(item_order), min(len(item_order), 2 * n_orphans), replace=False)
    orphan_products = _hex_ids(rng, n_orphans)
    orphan_sellers = _hex_ids(rng, n_orphans)
    items["product_id"] = csvio.replace_at(items["product_id"], orphan_item_rows[:n_orphans], orphan_products)
    items["seller_id"] = csvio.replace_at(items["seller_id"], orphan_item_rows[n_orphans:], orphan_sellers)

    # --- payments --------------------------------------------------------------------------------
    order_total = np.bincount(item_order, weights=item_price + freight, minlength=n_orders)
    order_total = np.where(counts > 0, order_total, np.round(rng.lognormal(np.log(120), 0.8, n_orders), 2))
    main_type = np.array([p for p, _ in PAYMENT_TYPES], dtype=object)[
        _pick(rng, n_orders, [w for _, w in PAYMENT_TYPES])
    ]
    vouchers = np.where(
        rng.random(n_orders) < VOUCHER_SPLIT_SHARE, _pick(rng, n_orders, (70, 15, 8, 4, 3)) + 1, 0
    )
    vouchers = np.where(main_type == "voucher", 0, vouchers)
    rows_per_order = 1 + vouchers
    pay_order = np.repeat(np.arange(n_orders), rows_per_order)
    first_row = np.concatenate([[0], np.cumsum(rows_per_order)[:-1]])
    sequential = np.arange(len(pay_order)) - np.repeat(first_row, rows_per_order) + 1
    # vouchers cover a share of the total; the main payment pays the rest (the last row of the order)
    voucher_share = rng.uniform(0.05, 0.5, len(pay_order)) / np.repeat(rows_per_order, rows_per_order)
    is_main = sequential == np.repeat(rows_per_order, rows_per_order)
    pay_value = np.where(is_main, 0.0, np.round(order_total[pay_order] * voucher_share, 2))
    voucher_paid = np.bincount(pay_order, weights=pay_value, minlength=n_orders)
    pay_value = np.where(is_main, np.round(order_total[pay_order] - voucher_paid[pay_order], 2), pay_value)
    pay_type = np.where(is_main, main_type[pay_order], "voucher")
    installments = np.array(list(INSTALLMENTS))[_pick(rng, len(pay_order), list(INSTALLMENTS.values()))]
    installments = np.where(pay_type == "credit_card", installments, 1)
    zero_installments = rng.choice(np.flatnonzero(pay_type == "credit_card"), size=2, replace=False)
    installments[zero_installments] = 0
    not_defined = rng.choice(
        np.flatnonzero(status[pay_order] == "canceled"),
        size=min(3, int((status[pay_order] == "canceled").sum())),
        replace=False,
    )
    pay_type[not_defined] = "not_defined"
    pay_value[not_defined] = 0.0
    payments = {
        "order_id": order_ids[pay_order],
        "payment_sequential": _ints(sequential),
        "payment_type": pay_type,
        "payment_installments": _ints(installments),
        "payment_value": _decimal(pay_value),
    }
    orphan_payment_orders = _hex_ids(rng, n_orphans)
    orphan_payment_rows = rng.choice(len(pay_order), n_orphans, replace=False)
    payments["order_id"] = csvio.replace_at(payments["order_id"], orphan_payment_rows, orphan_payment_orders)

    # --- reviews ---------------------------------------------------------------------------------
    reviewed = rng.random(n_orders) < 0.992
    second_review = reviewed & (rng.random(n_orders) < 0.0055)
    review_order = np.concatenate([np.flatnonzero(reviewed), np.flatnonzero(second_review)])
    review_order.sort(kind="stable")
    n_reviews = len(review_order)
    late = (delivered[review_order] // 86400 > estimated[review_order] // 86400) | ~has_delivery[review_order]
    on_time_scores = np.array(REVIEW_SCORES)[_pick(rng, n_reviews, SCORES_ON_TIME)]
    late_scores = np.array(REVIEW_SCORES)[_pick(rng, n_reviews, SCORES_LATE)]
    scores = np.where(late, late_scores, on_time_scores)
    review_ids = _hex_ids(rng, n_reviews)
    reused = rng.choice(n_reviews, size=int(n_reviews * 0.004), replace=False)  # real review_ids repeat
    review_ids[reused] = review_ids[rng.integers(0, n_reviews, len(reused))]
    created_base = np.where(has_delivery[review_order], delivered[review_order], estimated[review_order])
    created = (created_base // 86400 + 1) * 86400
    answered = created + np.exp(rng.normal(np.log(1.2 * 86400), 0.9, n_reviews)).clip(
        600, 500 * 86400
    ).astype(np.int64)
    has_title = rng.random(n_reviews) < 0.12
    has_message = rng.random(n_reviews) < 0.41
    reviews = {
        "review_id": review_ids,
        "order_id": order_ids[review_order],
        "review_score": _ints(scores),
        "review_comment_title": np.where(
            has_title,
            np.array(REVIEW_TITLES, dtype=object)[rng.integers(0, len(REVIEW_TITLES), n_reviews)],
            "",
        ),
        "review_comment_message": np.where(
            has_message,
            np.array(REVIEW_MESSAGES, dtype=object)[rng.integers(0, len(REVIEW_MESSAGES), n_reviews)],
            "",
        ),
        "review_creation_date": _timestamps(created),
        "review_answer_timestamp": _timestamps(answered),
    }

    # --- geolocation -----------------------------------------------------------------------------
    covered = np.setdiff1d(np.arange(n_prefixes), geo_missing_places)
    n_geo = max(len(covered), round(REAL_SIZES["geolocation"] * scale))
    geo_place = np.concatenate([covered, covered[_pick(rng, n_geo - len(covered), np.ones(len(covered)))]])
    geo_place.sort(kind="stable")
    accented = rng.random(n_geo) < 0.3
    geo_city = np.where(
        accented, np.char.lower(prefix_city_accented[geo_place].astype(str)), prefix_city[geo_place]
    )
    geolocation = {
        "geolocation_zip_code_prefix": csvio.prefixed_ids("", prefix_code[geo_place], 5),
        "geolocation_lat": csvio.as_strings(
            pa.array(prefix_lat[geo_place] + rng.normal(0, 0.02, n_geo)).cast(pa.large_string())
        ),
        "geolocation_lng": csvio.as_strings(
            pa.array(prefix_lng[geo_place] + rng.normal(0, 0.02, n_geo)).cast(pa.large_string())
        ),
        "geolocation_city": geo_city,
        "geolocation_state": state_codes[prefix_state[geo_place]],
    }

    translation = {
        "product_category_name": [c[0] for c in CATEGORIES if c[1]],
        "product_category_name_english": [c[1] for c in CATEGORIES if c[1]],
    }

    tables = {
        ORDERS: orders,
        ORDER_ITEMS: items,
        CUSTOMERS: customers,
        PRODUCTS: products,
        SELLERS: sellers,
        PAYMENTS: payments,
        REVIEWS: reviews,
        GEOLOCATION: geolocation,
        TRANSLATION: translation,
    }
    rows = {}
    for name, table in tables.items():
        assert tuple(table) == COLUMNS[name], name
        rows[name] = csvio.write_csv(
            out_dir / name,
            {column: csvio.as_strings(values) for column, values in table.items()},
            bom=name in BOM_FILES,
            quote_all=QUOTE_ALL.get(name, frozenset()),
        )
    manifest = OlistManifest(
        scale=scale,
        seed=seed,
        rows=rows,
        quirks=dict(QUIRKS),
        orphans={
            f"{ORDER_ITEMS}.product_id -> {PRODUCTS}": sorted(orphan_products.tolist()),
            f"{ORDER_ITEMS}.seller_id -> {SELLERS}": sorted(orphan_sellers.tolist()),
            f"{PAYMENTS}.order_id -> {ORDERS}": sorted(orphan_payment_orders.tolist()),
            f"{CUSTOMERS}.customer_zip_code_prefix -> {GEOLOCATION}": sorted(
                f"{code:05d}" for code in prefix_code[geo_missing_places].tolist()
            ),
        },
        untranslated_categories=[c[0] for c in CATEGORIES if not c[1]],
    )
    (out_dir / "manifest.json").write_text(manifest.to_json())
    return manifest
