"""Scripted multi-turn conversations: filters and results after each turn."""

from __future__ import annotations

import re

import pytest

from assistant.chat.dialog import Conversation
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


def _numbers(text: str) -> set[str]:
    import re
    return set(re.findall(r"\d+(?:\.\d+)?", text))


def test_product_questions_are_grounded_in_the_record(assistant, demo):
    conv = Conversation(assistant, catalog="demo")
    conv.handle("grey sofa")
    first = conv.last.results[0].product
    record = first.model_dump_json()
    for question in ("how wide is the first one?", "how deep is it?", "what does it cost?",
                     "is it machine washable?", "tell me about the first one", "how many seats?"):
        reply = conv.handle(question)
        assert first.title in reply.message, question
        for number in _numbers(reply.message):
            assert number in record, (question, number, reply.message)
    width = first.attributes.get("width")
    assert width and f"“{width}”" in conv.handle("how wide is the first one?").message
    unknown = conv.handle("is the first one machine washable?").message
    if "care" not in first.attributes:
        assert "doesn't say" in unknown


def test_compare_more_like_and_out_of_range(assistant, demo):
    conv = Conversation(assistant, catalog="demo")
    conv.handle("coffee table")
    shown = [r.product for r in conv.last.results]
    table = conv.handle("compare 1 and 3").message
    assert shown[0].title in table and shown[2].title in table and "| price |" in table
    assert "pick a number" in conv.handle("compare 1 and 40").message
    similar = conv.handle("more like the second one")
    ids = [r.product.id for r in similar.response.results]
    assert shown[1].id not in ids and len(ids) >= 5
    assert sum("Coffee Tables" in r.product.category for r in similar.response.results[:5]) >= 4


def test_refinement_reuses_the_query_embedding(assistant, demo):
    conv = Conversation(assistant, catalog="demo")
    conv.handle("comfortable reading lamp")
    cached = dict(demo.__dict__.get("_vectors", {}))
    conv.handle("under 100")
    conv.handle("in black")
    assert demo.__dict__["_vectors"].keys() == cached.keys()  # no new text was encoded


def test_the_answer_says_how_a_misspelt_word_was_read(assistant, fashion):
    conv = Conversation(assistant, catalog="fashion")
    reply = conv.handle("blue sikrt womens")
    assert "I read 'sikrt' as Skirts" in reply.message, reply.message
    assert reply.response.results and all("Skirts" in r.product.category for r in reply.response.results[:5])
    assert "I read 'shaes' as 'shoe'" in conv.handle("black dress shaes for men").message
    either = conv.handle("shrts").message  # a true tie: both types are searched, and the answer says so
    assert "'shrts' as Shorts or Shirts" in either or "'shrts' as Shirts or Shorts" in either, either
    spelled_right = conv.handle("women's black heels").message
    assert "I read" not in spelled_right, spelled_right


def test_cheaper_shows_only_products_cheaper_than_everything_shown(assistant, demo):
    """Issue 20 (6): "cheaper" used to cap at the median shown price, keeping that product; a cap
    from the whole catalog then made "cheaper" grey sofas relax to anything under the cap."""
    for query in ("sofa", "grey sofa"):
        conv = Conversation(assistant, catalog="demo")
        conv.handle(query)
        steps = 0
        while True:  # ask until the bottom: then it says so and keeps what is shown
            shown = conv.last
            reply = conv.handle("cheaper")
            if reply.response is shown:
                assert "nothing cheaper" in reply.message.lower()
                break
            steps += 1
            assert reply.response.results and not reply.response.relaxed, reply.message
            assert max(r.product.price for r in reply.response.results) < min(r.product.price for r in shown.results)
            assert all("Sofas" in r.product.category for r in reply.response.results)
        assert steps >= 1 or query == "grey sofa"


def test_replies_say_what_really_changed(assistant, demo):
    """Issue 20 (6): "Narrowed it down" was said even when a refinement widened the results."""
    conv = Conversation(assistant, catalog="demo")
    previous = conv.handle("grey sofa").response.total
    for step in ("in blue", "under 900", "in grey", "over 100"):
        reply = conv.handle(step)
        total = reply.response.total if reply.response is not None and reply.response.results else 0
        if total and total < previous:
            assert reply.message.startswith("Narrowed"), (step, previous, total, reply.message)
        elif total > previous:
            assert reply.message.startswith("Widened"), (step, previous, total, reply.message)
        assert "Narrowed" not in reply.message or total < previous
        assert not re.search(r"\b1 matches\b", reply.message)
        previous = total or previous
    widened = conv.remove_chip(conv.last.filters.describe()[0])
    assert "Narrowed" not in widened.message


def test_one_match_is_singular(assistant, demo):
    conv = Conversation(assistant, catalog="demo")
    for query in ("grey sofa under 600", "red kettle", "blue mug", "leather armchair under 500"):
        reply = conv.handle(query)
        assert not re.search(r"\b1 matches\b", reply.message), reply.message
        if reply.response is not None and reply.response.total == 1:
            assert "1 match" in reply.message


def test_a_price_on_a_catalog_without_prices_keeps_the_other_filters(tmp_path):
    """Issue 20 (1): on a priceless catalog "under 2000" matched nothing and lost Heels/Black/Women,
    and "tell me about the first one" then said "Search for something first"."""
    from assistant.config import settings_from_env
    from assistant.core import Assistant

    export = tmp_path / "noprices.csv"
    rows = ["id,title,category,color,gender"]
    for i, (colour, kind, gender) in enumerate([(c, k, g) for c in ("Black", "Brown", "Red")
                                                for k in ("Heels", "Flats", "Handbags") for g in ("Women", "Men")]):
        rows.append(f"{i},{gender} {colour} {kind} {i},Footwear > {kind},{colour},{gender}")
    export.write_text("\n".join(rows) + "\n")
    settings = settings_from_env(index_dir=tmp_path / "idx")
    name = settings.resolve_catalog(str(export))
    conv = Conversation(Assistant(settings, progress=False), catalog=name)
    first = conv.handle("women's black heels")
    assert {"Heels", "Black", "Women"} <= set(first.chips)
    for step in ("under 2000", "black heels under $50"):
        reply = conv.handle(step)
        assert reply.response is not None and reply.response.results, (step, reply.message)
        assert {"Heels", "Black"} <= set(reply.chips) and not any("$" in c for c in reply.chips)
        assert "no prices" in reply.message
    about = conv.handle("tell me about the first one")
    assert "Search for something first" not in about.message
    assert conv.last.results[0].product.title in about.message


def test_a_new_price_bound_replaces_the_one_it_contradicts(assistant, demo):
    """"over 500" after "under 100" used to keep both bounds, which now is refused as min > max."""
    conv = Conversation(assistant, catalog="demo")
    conv.handle("sofa under 100")
    reply = conv.handle("over 500")
    assert conv.filters.price_min == 500 and conv.filters.price_max is None, reply.message
    assert reply.response.results and all(r.product.price >= 500 for r in reply.response.results)
    reply = conv.handle("under 300")
    assert conv.filters.price_max == 300 and conv.filters.price_min is None, reply.message
