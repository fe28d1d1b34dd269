"""Query understanding, table-driven, against the catalogs' real vocabularies."""

from __future__ import annotations

import pytest

from assistant.language.understand import parse
from assistant.language.vocabulary import Vocabulary
from catalog.adapters import load_fashion, load_table
from tests.conftest import ROOT, fashion_available


@pytest.fixture(scope="module")
def reader(settings):
    """Foreign words are read from the installed dictionaries (no word list of them in the project)."""
    from assistant.language.translate import reader_for

    return reader_for(str(settings.apertium_dir), str(settings.freedict_dir), settings.cedict_path)


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
    # everyday words for catalog types and shades (eval/fashion-synonyms measures them in search)
    ("brassiere in white", {"categories": ["Bra"], "colors": ["White"]}),
    ("black loafers for men", {"categories": ["Casual Shoes", "Formal Shoes"], "genders": ["Men"]}),
    ("blue windcheater", {"categories": ["Jackets"], "colors": ["Blue"]}),
    ("cobalt shirt", {"categories": ["Shirts"], "colors": ["Blue"]}),
    ("heather grey sweatshirt", {"categories": ["Sweatshirts"], "colors": ["Grey Melange", "Grey"]}),
    ("womens scarf", {"categories": ["Scarves", "Stoles", "Mufflers"], "genders": ["Women"]}),
    ("scarves", {"categories": ["Scarves"]}),  # the stemmer leaves "scarve": the -ves forms meet
    # a narrower type and its parent in one query: the narrower one ("oxford" is a formal shoe)
    ("men's black oxford shoes", {"categories": ["Formal Shoes"], "genders": ["Men"], "colors": ["Black"]}),
    # a function word of another language is not a typo of a product word ("para" is not "parka")
    ("reloj para mujer", {"categories": ["Watches"], "genders": ["Women"]}),
    ("black formal pants for men", {"categories": ["Trousers"], "occasions": ["Formal"], "colors": ["Black"]}),
    # typing slips (bench/typos.py measures them in search)
    ("blue sikrt womens", {"categories": ["Skirts"], "colors": ["Blue"]}),  # a swap: skirt, not shirt
    ("mens shrots", {"categories": ["Shorts"], "genders": ["Men"]}),
    ("shrts", {"categories": ["Shirts", "Shorts"]}),  # truly either: both stay
    ("blue jens", {"categories": ["Jeans"], "colors": ["Blue"]}),  # a four-letter slip
    ("perfuem for him", {"categories": ["Perfume and Body Mist"], "genders": ["Men"]}),
    ("belt wmoens", {"categories": ["Belts"], "genders": ["Women"]}),  # a long gender word
    ("mens grey traek pants", {"categories": ["Track Pants"], "colors": ["Grey"]}),
    ("black flip flpos women's", {"categories": ["Flip Flops"], "colors": ["Black"], "genders": ["Women"]}),
    ("sun glases for men", {"categories": ["Sunglasses"], "genders": ["Men"]}),  # a compound, split and misspelt
    ("black dress shaes for men", {"categories": ["Formal Shoes"], "colors": ["Black"]}),  # not Dresses
    ("clutth purse for her", {"categories": ["Clutches"], "genders": ["Women"]}),  # one of the purse types
    ("red dress", {"categories": ["Dress", "Dresses"], "colors": ["Red"]}),
]


@pytest.mark.parametrize("query, expected", FASHION)
def test_fashion_attributes(fashion_vocab, reader, query, expected):
    p = parse(query, fashion_vocab, reader=reader)
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


# Real shopper queries from ../shared/data/wands-queries/query.csv (some lightly extended with a
# price or negation), parsed against the demo store's vocabulary. Fields not listed must be empty.
WANDS_REAL = [
    ("turquoise pillows", {"categories": ["Pillows"]}),
    ("leather chairs", {"materials": ["leather"], "categories": ["Dining Chairs"]}),
    ("leather dining chairs", {"materials": ["leather"], "categories": ["Dining Chairs"]}),
    ("wood coffee table set by storage", {"materials": ["wood", "oak", "walnut"], "categories": ["Coffee Tables"]}),
    ("velvet chaise", {"materials": ["velvet"]}),
    ("light and navy blue decorative pillow", {"colors": ["navy blue"], "categories": ["Pillows"]}),
    ("ombre rug", {"categories": ["Rugs"]}),
    ("outdoor welcome rug", {"categories": ["Rugs"], "occasions": ["Outdoor"]}),
    ("rug plum", {"categories": ["Rugs"], "colors": ["purple"]}),
    ("star wars rug", {"categories": ["Rugs"]}),
    ("arwen table lamp", {"categories": ["Table Lamps"]}),
    ("belchertown table lamp", {"categories": ["Table Lamps"]}),
    ("unique coffee tables", {"categories": ["Coffee Tables"]}),
    ("block coffee table", {"categories": ["Coffee Tables"]}),
    ("smart coffee table", {"categories": ["Coffee Tables"]}),
    ("auburn throw pillows", {"categories": ["Throw Pillows"]}),
    ("sofa with ottoman", {"categories": ["Sofas"]}),
    ("glass coffee table", {"materials": ["glass"], "categories": ["Coffee Tables"]}),
    ("black hanging bookshelf", {"colors": ["black"]}),
    ("royal blue counter height chairs", {"colors": ["blue"], "categories": ["Dining Chairs"]}),
    ("turquoise chair", {"categories": ["Dining Chairs"]}),
    ("tufted chair with gold legs", {"colors": ["gold"], "categories": ["Dining Chairs"]}),
    ("love seat wide faux leather tuxedo arm sofa", {"categories": ["Sofas"]}),
    ("blue faux throw with pillows", {"colors": ["blue"], "categories": ["Throw Pillows", "Pillows"]}),
    ("white duvet cover queen", {"colors": ["white"], "categories": ["Duvet Covers"], "sizes": ["queen"]}),
    ("8 x 10 area rug under $300", {"categories": ["Area Rugs"], "sizes": ["8 x 10"], "price_max": 300}),
    ("grey couch without arms", {"colors": ["grey"], "categories": ["Sofas"], "exclude": ["arms"]}),
    ("coffee table no glass", {"categories": ["Coffee Tables"], "exclude": ["glass"]}),
    ("cofee table", {"categories": ["Coffee Tables"]}),
    ("sofaa", {"categories": ["Sofas"]}),
    ("gray sofa", {"colors": ["grey"], "categories": ["Sofas"]}),
    ("cheap floor lamp", {"categories": ["Floor Lamps"], "sort": "price_asc"}),
    ("best rated running shoes", {"categories": ["Running Shoes"], "sort": "rating_desc"}),
    ("newest sneakers", {"categories": ["Sneakers"], "sort": "newest"}),
    ("3-seater grey sofa between 500 and 900", {"colors": ["grey"], "categories": ["Sofas"], "sizes": ["3-seater"],
                                                  "price_min": 500, "price_max": 900}),
    ("red running shoes, not leather, under 50", {"colors": ["red"], "categories": ["Running Shoes"],
                                                   "exclude": ["leather"], "price_max": 50}),
    ("oak dining chair", {"materials": ["oak"], "categories": ["Dining Chairs"]}),
    ("king size sheet set", {"categories": ["Sheet Sets"], "sizes": ["king size"]}),
    ("linen duvet cover", {"materials": ["linen"], "categories": ["Duvet Covers"]}),
    ("rattan coffee table", {"materials": ["rattan"], "categories": ["Coffee Tables"]}),
    ("velvet sofa in green", {"materials": ["velvet"], "colors": ["green"], "categories": ["Sofas"]}),
    ("leather handbag for women", {"materials": ["leather"], "categories": ["Handbags"], "genders": ["Women"]}),
    ("mens denim jacket", {"materials": ["denim"], "categories": ["Jackets", "Jeans"], "genders": ["Men"]}),
    ("silver watch for her", {"colors": ["silver"], "categories": ["Watches"], "genders": ["Women"]}),
    ("sofa 沙发 灰色", {"categories": ["Sofas"], "colors": ["grey"]}),
    ("sofá gris", {"colors": ["grey"], "categories": ["Sofas"]}),
    ("800元以下的沙发", {"categories": ["Sofas"], "price_max": 800}),
]
CHECKED = ("colors", "materials", "categories", "brands", "genders", "occasions", "exclude", "sizes",
           "price_min", "price_max", "sort")


@pytest.mark.parametrize("query, expected", WANDS_REAL)
def test_real_shopper_queries(demo_vocab, reader, query, expected):
    # the reader only for the rows typed with accents or in Chinese: with it, "ombre rug" is read
    # as French (ombre -> shade -> Sunglasses), a known misreading of two-word queries
    p = parse(query, demo_vocab, reader=None if query.isascii() else reader)
    for key in CHECKED:
        got = getattr(p, key)
        want = expected.get(key, [] if isinstance(got, list) else None)
        if isinstance(got, list):
            assert sorted(got) == sorted(want), (query, key, p)
        else:
            assert got == want, (query, key, p)


def test_everyday_words_are_data_with_a_source_for_every_entry():
    """Issue 16: the lexicon lives in a data file, each entry naming where it came from."""
    import re

    from assistant.language.vocabulary import EVERYDAY_WORDS, load_everyday_words

    text = EVERYDAY_WORDS.read_text(encoding="utf-8")
    described = set(re.findall(r"^#\s+([0-9a-f]{7})\s", text, flags=re.M))
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")][1:]
    assert rows and all(len(r) == 4 and r[2] and r[3] in described for r in rows)
    loaded = load_everyday_words()
    assert sum(len(v) for v in loaded.values()) == len(rows)
    assert loaded["color"]["navy"] == ["navy blue", "blue"]


def test_compound_words_come_from_the_catalog_itself():
    """The tokenizer joins only what a catalog spells both ways in its own titles and type labels
    (issue 16): fashion writes "Tshirts"/"t-shirt", "Sweatshirts"/"sweat shirts", "Flip Flops"/
    "flip-flops"; brands and colours written hyphenated ("off-white") stay apart."""
    from assistant.language.text import NO_COMPOUNDS, Compounds, words

    titles = ["Nike Men Black T-Shirt", "Puma Grey Sweat Shirts", "Adidas flip-flops",
              "Red Tape off-white shoes", "Nike Tshirts", "Off White Kurta"]
    types = ["Tshirts", "Sweatshirts", "Flip Flops", "Casual Shoes", "Kurtas"]
    derived = Compounds.derive(titles, types)
    assert derived.pairs == (("flip", "flop"), ("sweat", "shirt"), ("t", "shirt"))
    assert words("blue t shirt", derived) == ["blue", "tshirt"] == words("blue T-Shirts", derived)
    assert words("off-white", derived) == ["off", "white"]
    assert words("blue t shirt") == ["blue", "t", "shirt"]  # no catalog: nothing joined
    assert Compounds.derive(["A T-Shirt"], ["Shirts"]) == NO_COMPOUNDS  # no type the catalog spells two ways


def test_each_catalog_folds_with_its_own_compounds(demo):
    """The demo store's type "T-Shirts" is written hyphenated, and it sells no flip-flops: only
    "t shirt" is joined there, and its keyword index was built with the same compounds."""
    from assistant.language.text import words

    assert demo.compounds.pairs == (("t", "shirt"),)
    assert demo.index.manifest["compounds"] == [["t", "shirt"]]
    assert demo.vocab.words("flip flops") == ["flip", "flops"]
    assert demo.vocab.words("t-shirt") == ["tshirt"] == words("tshirts", demo.policy.compounds)


@pytest.mark.parametrize("query, expected", [
    ("jeans jacket", ["Jackets"]),  # the meaning alone says Jeans: the last word names the thing
    ("jean jacket for men", ["Jackets"]),
    ("dress shoes", ["Formal Shoes"]),  # the meaning may still narrow the last word's type
])
def test_adjacent_type_words_name_the_last_ones_thing(fashion, query, expected):
    assert fashion.parse(query).categories == expected, fashion.parse(query)


def test_short_pants_keep_both_readings(fashion):
    assert {"Shorts", "Trousers"} <= set(fashion.parse("short pants").categories)
