"""Scripted multi-turn conversations: filters and results after each turn."""

from __future__ import annotations

import pytest

from assistant.dialog import Conversation
from assistant.errors import ShopperError


def test_sofa_conversation_narrows_step_by_step(assistant, demo):
    conv = Conversation(assistant, catalog="demo")
    r1 = conv.handle("show me sofas")
    assert r1.response.results and all("Sofas" in r.product.category for r in r1.response.results)
    r2 = conv.handle("in grey")
    assert "grey" in r2.chips and "Sofas" in r2.chips
    assert all("grey" in r.product.colors for r in r2.response.results)
    r3 = conv.handle("under 800")
    assert all(r.product.price <= 800 and "grey" in r.product.colors for r in r3.response.results)
    r4 = conv.handle("without arms")
    assert "not arms" in r4.chips
    assert r4.response.results
    assert all(r.product.attributes.get("arms") == "no" for r in r4.response.results)
    # removing a chip widens again
    r5 = conv.remove_chip("under $800")
    assert r5.response.total >= r4.response.total and "under $800" not in r5.chips


def test_new_subject_starts_a_new_search_and_start_over_clears(assistant, demo):
    conv = Conversation(assistant, catalog="demo")
    conv.handle("grey sofa")
    r = conv.handle("leather handbag")
    assert "grey" not in r.chips
    assert all("Handbags" in x.product.category for x in r.response.results[:5])
    reset = conv.handle("start over")
    assert reset.response is None and conv.last is None and conv.filters.is_empty()


def test_cheaper_lowers_the_price_ceiling(assistant, demo):
    conv = Conversation(assistant, catalog="demo")
    first = conv.handle("sofa")
    top = max(r.product.price for r in first.response.results)
    cheaper = conv.handle("cheaper")
    prices = [r.product.price for r in cheaper.response.results]
    assert prices and max(prices) < top and prices == sorted(prices)


def test_fashion_colour_refinement_replaces_colour(assistant, fashion):
    conv = Conversation(assistant, catalog="fashion")
    conv.handle("women's black heels")
    r = conv.handle("in brown")
    assert "Brown" in r.chips and "Black" not in r.chips and "Heels" in r.chips
    assert all(x.product.colors == ["Brown"] and x.product.leaf_category == "Heels" for x in r.response.results)


def test_greeting_and_empty_messages(assistant, demo):
    conv = Conversation(assistant, catalog="demo")
    assert "looking for" in conv.handle("hello").message
    with pytest.raises(ShopperError):
        conv.handle("  ")
    with pytest.raises(ShopperError):
        conv.remove_chip("grey")
