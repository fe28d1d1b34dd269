"""Cards, product detail and compare table as HTML (issue 20, item 8), without a browser."""

from __future__ import annotations

from catalog.schema import Product

from assistant.retrieval.explain import explain
from assistant.retrieval.search import Result
from assistant.shells.web.cards import distinguishers, render_compare, render_detail


def heels(pid: str, **extra) -> Product:
    fields = {"colors": ["Black"], "gender": "Women", **extra}
    return Product(id=pid, title="Catwalk Women Black Heels", category=["Footwear", "Shoes", "Heels"], **fields)


def test_same_titles_say_what_tells_them_apart():
    by_colour = distinguishers([heels("1", colors=["Black"]), heels("2", colors=["Red"]), heels("3", colors=["Tan"])])
    assert set(by_colour.values()) == {"Black", "Red", "Tan"}
    same = distinguishers([heels("10"), heels("11"), Product(id="12", title="Another")])
    assert same == {"10": "item 10", "11": "item 11"}


def test_detail_has_every_attribute_and_the_price_when_known():
    p = heels("7", price=49.5, currency="USD", brand="Catwalk", attributes={"heel height": "3 in"})
    html = render_detail(p)
    for text in ("$49.50", "Catwalk", "Heel height", "3 in", "Item number", "More like this", "Add to compare"):
        assert text in html, text
    assert "lists no price" in render_detail(heels("8"))


def test_compare_columns_are_numbered_with_photos():
    html = render_compare([heels("1"), heels("2", colors=["Red"])])
    assert html.count("class='num'") == 2 and html.count("<img") == 2
    assert "(Red)" in html and "Item number" in html


def test_why_lines_use_plain_words_not_scores():
    r = Result(product=heels("1"), score=0.9, rank=1, dense_rank=1, dense_score=0.73)
    why = explain(r)
    assert "0.73" not in why and "close to what you asked for" in why


def test_titles_differing_only_in_spacing_count_as_the_same():
    notes = distinguishers([heels("1"), Product(id="2", title="Catwalk  Women Black Heels ", colors=["Black"],
                                                 gender="Women")])
    assert notes == {"1": "item 1", "2": "item 2"}
