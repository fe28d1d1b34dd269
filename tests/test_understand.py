"""Query understanding, table-driven, against the catalogs' real vocabularies."""

from __future__ import annotations

import pytest

from assistant.understand import parse
from assistant.vocabulary import Vocabulary
from catalog.adapters import load_fashion, load_table
from tests.conftest import ROOT, fashion_available


@pytest.fixture(scope="module")
def demo_vocab() -> Vocabulary:
    return Vocabulary.from_products(load_table(ROOT / "catalog" / "demo" / "products.jsonl").products)


@pytest.fixture(scope="module")
def fashion_vocab(settings) -> Vocabulary:
    if not fashion_available(settings):
        pytest.skip("fashion data not present")
    return Vocabulary.from_products(load_fashion(settings.catalogs["fashion"].path).products)


PRICES = [
    ("sofa under $800", None, 800),
    ("lamps below 40 dollars", None, 40),
    ("rug less than 80 dollars", None, 80),
    ("between 100 and 200", 100, 200),
    ("chairs from $50 to $120", 50, 120),
    ("$30-$60 sneakers", 30, 60),
    ("over $500 sofa", 500, None),
    ("at least 25 usd", 25, None),
    ("table up to 1.5k", None, 1500),
    ("50元以下 手表", None, 50),
    ("200元以上", 200, None),
    ("3-seater sofa", None, None),  # not a price
]


@pytest.mark.parametrize("query, low, high", PRICES)
def test_prices(query, low, high):
    p = parse(query)
    assert (p.price_min, p.price_max) == (low, high)


FASHION = [
    ("women's black heels", {"genders": ["Women"], "colors": ["Black"], "categories": ["Heels"]}),
    ("womens blak heals", {"genders": ["Women"], "colors": ["Black"], "categories": ["Heels"]}),
    ("navy blue flip flops", {"colors": ["Navy Blue"], "categories": ["Flip Flops"]}),
    ("black formal shoes men's", {"colors": ["Black"], "categories": ["Formal Shoes"], "genders": ["Men"]}),
    ("formal tie for men", {"occasions": ["Formal"], "categories": ["Ties"], "genders": ["Men"]}),
    ("ladies handbag", {"genders": ["Women"], "categories": ["Handbags"]}),
    ("gray tshirt", {"colors": ["Grey"], "categories": ["Tshirts"]}),
    ("t-shirt", {"categories": ["Tshirts"]}),
    ("mens wallett", {"genders": ["Men"], "categories": ["Wallets"]}),
    ("perfume for him", {"genders": ["Men"], "categories": ["Perfume and Body Mist"]}),
    ("shades", {"categories": ["Sunglasses"]}),
    ("reloj negro", {"colors": ["Black"], "categories": ["Watches"]}),
    ("黑色 手表", {"colors": ["Black"], "categories": ["Watches"]}),
    ("sports shoes not white", {"categories": ["Sports Shoes"], "colors": [], "exclude": ["white"]}),
]


@pytest.mark.parametrize("query, expected", FASHION)
def test_fashion_attributes(fashion_vocab, query, expected):
    p = parse(query, fashion_vocab)
    for key, value in expected.items():
        assert sorted(getattr(p, key)) == sorted(value), (query, key, p)


DEMO = [
    ("grey sofa without arms", {"colors": ["grey"], "categories": ["Sofas"], "exclude": ["arms"]}),
    ("red running shoes under $50, not leather", {"colors": ["red"], "exclude": ["leather"], "price_max": 50}),
    ("glass coffee table", {"materials": ["glass"], "categories": ["Coffee Tables"]}),
    ("coffee table no glass", {"categories": ["Coffee Tables"], "materials": [], "exclude": ["glass"]}),
    ("cheapest sofa", {"sort": "price_asc", "categories": ["Sofas"]}),
    ("best rated lamp", {"sort": "rating_desc"}),
    ("couch", {"categories": ["Sofas"]}),
]


@pytest.mark.parametrize("query, expected", DEMO)
def test_demo_attributes(demo_vocab, query, expected):
    p = parse(query, demo_vocab)
    for key, value in expected.items():
        got = getattr(p, key)
        assert (sorted(got) if isinstance(got, list) else got) == (sorted(value) if isinstance(value, list) else value), (query, key, p)


@pytest.mark.parametrize("query, intent", [
    ("hi", "greeting"), ("help", "greeting"), ("start over", "reset"), ("compare 1 and 3", "compare"),
    ("is the first one machine washable?", "question"), ("in blue", "refine"), ("cheaper", "refine"),
    ("grey sofa", "search"), ("more like the second one", "more_like"),
])
def test_intents(query, intent):
    assert parse(query).intent == intent
