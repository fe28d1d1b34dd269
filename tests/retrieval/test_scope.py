"""Things the store does not carry (issue 20, item 7): a query for a product type the catalog
lacks says so and names the nearest types it has, on any catalog, without word lists."""

from __future__ import annotations

import json

import pytest

from assistant.chat.dialog import Conversation
from assistant.core import Assistant
from assistant.retrieval.scope import OutOfScope, text_scope
from tests.conftest import FIXTURES, fashion_available, fashion_photo_rows

SLICE_TYPES = ("Tshirts", "Jeans", "Heels", "Watches", "Handbags", "Dresses", "Sunglasses")


@pytest.fixture(scope="module")
def own(settings) -> Assistant:
    """An Assistant of its own, so catalogs registered here do not show in other tests' lists."""
    return Assistant(settings.model_copy(deep=True), progress=False)


@pytest.fixture(scope="module")
def home_goods(own) -> str:
    """The WANDS fixture: 40 home-goods products (sofas, tables, rugs, lamps...), no shoes."""
    return own.settings.register_path(str(FIXTURES / "wands" / "product.csv"))


@pytest.fixture(scope="module")
def fashion_slice(own, tmp_path_factory) -> str:
    """A small slice of the fashion catalog (its index builds in seconds)."""
    if not fashion_available(own.settings):
        pytest.skip("fashion data not found")
    rows = fashion_photo_rows(own.settings.data_dir / "fashion", SLICE_TYPES, 12)
    path = tmp_path_factory.mktemp("slice") / "fashionslice.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return own.settings.register_path(str(path))


@pytest.mark.parametrize("query, asked", [("grey sofa", "sofas"), ("lamp", "lamps"),
                                          ("a coffee table", "coffee tables")])
def test_fashion_does_not_carry_furniture(own, fashion_slice, query, asked):
    conv = Conversation(own, catalog=fashion_slice)
    reply = conv.handle(query)
    assert reply.message.startswith(f"We don't carry {asked} here."), reply.message
    assert reply.response is None and conv.last is None, "no unrelated products shown as matches"
    nearest = reply.message.split("this catalog has ", 1)[1]
    assert any(t in nearest for t in SLICE_TYPES), reply.message


def test_home_goods_do_not_carry_sneakers(own, home_goods):
    conv = Conversation(own, catalog=home_goods)
    reply = conv.handle("white sneakers")
    assert reply.message.startswith("We don't carry sneakers here."), reply.message
    assert reply.response is None


@pytest.mark.parametrize("query", ["grey sofa", "glass coffee table", "rug 8x10", "something for the living room"])
def test_home_goods_search_what_they_carry(own, home_goods, query):
    reply = Conversation(own, catalog=home_goods).handle(query)
    assert "don't carry" not in reply.message and reply.response.results, reply.message


@pytest.mark.parametrize("query", ["women's black heels", "watch for men", "sunnies", "denims",
                                   "something to wear to a party", "blue", "under $50", "titan"])
def test_fashion_searches_what_it_carries(own, fashion_slice, query):
    """Slang and rare words for types it has ("sunnies": as far from every type as "sofa" is)
    are not taken for types it lacks."""
    engine = own.engine(fashion_slice)
    reference = own.scope_reference(fashion_slice)
    assert text_scope(engine.parse(query), engine.matcher, engine.vocab, reference) is None, query


def test_the_reply_names_the_catalog_that_has_it(own, fashion_slice):
    reply = Conversation(own, catalog=fashion_slice).handle("grey sofa")
    assert "(the 'demo' catalog has Sofas)" in reply.message, reply.message


def test_refinements_and_questions_are_never_out_of_scope(own, fashion_slice):
    conv = Conversation(own, catalog=fashion_slice)
    conv.handle("black heels")
    assert "don't carry" not in conv.handle("in brown").message
    assert "don't carry" not in conv.handle("tell me about the first one").message


def test_message_grammar():
    one = OutOfScope("lamps", [("Sunglasses", 0.3)], 0.3, ("Table Lamps", "demo")).message()
    assert one == ("We don't carry lamps here. The closest type this catalog has is Sunglasses; "
                   "ask for one of them, or describe what you need differently (the 'demo' "
                   "catalog has Table Lamps).")
    three = OutOfScope("sofas", [("A", 0.3), ("B", 0.2), ("C", 0.1)], 0.3).message()
    assert "are A, B or C;" in three
