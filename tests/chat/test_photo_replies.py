"""What the chat says after a photo search (issue 20, items 6 and 7): what came from the photo
and what from the words typed with it are told apart, counts agree in number, and a photo
unlike anything in the catalog is said to be so."""

from __future__ import annotations

import pytest

from catalog.schema import Product

from assistant.language.understand import ParsedQuery
from assistant.retrieval.policy import Result, SearchResponse
from assistant.retrieval.scope import PHOTO_MIN_SIMILARITY, photo_scope
from assistant.retrieval.search import Filters
from assistant.vision.photo_index import PhotoQuery, looks_like, photo_message


def _response(n: int, typed: ParsedQuery, preferences: Filters, filters: Filters | None = None) -> SearchResponse:
    results = [Result(product=Product(id=str(i), title=f"Shirt {i}", category=["Apparel", "Shirts"]),
                      score=1.0, rank=i) for i in range(1, n + 1)]
    return SearchResponse(typed, filters or Filters(), results, total=n, facets={}, mode="photo",
                          preferences=preferences)


def test_words_are_not_credited_to_the_photo():
    """"like this but in black" on a photo of a white men's shirt used to read "This looks like
    Black Shirts": the colour came from the words, not the photo."""
    typed = ParsedQuery(original="like this but in black", colors=["Black"])
    soft = Filters(categories=["Shirts"], colors=["Black"], genders=["Men"])
    message = photo_message(_response(10, typed, soft))
    assert "looks like Black" not in message and "Black Shirts" not in message, message
    assert message.startswith("Your photo looks like Shirts (Men)."), message
    assert "From your words: Black." in message, message
    assert "Here are 10 similar items, closest matches first." in message


def test_a_photo_alone_is_described_by_what_was_recognised():
    message = photo_message(_response(1, ParsedQuery(original=""), Filters(categories=["Heels"], colors=["Black"])))
    assert message.startswith("Your photo looks like Black Heels.") and "From your words" not in message
    assert "Here is 1 similar item, closest match first." in message, message


def test_price_typed_with_a_photo_is_the_words():
    typed = ParsedQuery(original="under 50", price_max=50.0)
    message = photo_message(_response(3, typed, Filters(categories=["Watches"]), Filters(price_max=50.0)))
    assert message.startswith("Your photo looks like Watches.") and "From your words: under $50." in message


def test_card_reasons_do_not_credit_the_photo_with_typed_values():
    query = PhotoQuery(vector=None, colours=None, recognised={})
    soft = Filters(categories=["Shirts"], colors=["Black"])
    assert looks_like(query, soft, Filters(colors=["Black"])) == "Shirts"
    assert looks_like(query, soft) == "Black Shirts"


def test_a_photo_unlike_the_catalog_is_out_of_scope():
    scope = photo_scope(PHOTO_MIN_SIMILARITY - 0.05, ["Watches", "Watches", "Tshirts"])
    assert scope is not None
    typed = ParsedQuery(original="")
    response = SearchResponse(typed, Filters(), [], total=0, facets={}, mode="photo", out_of_scope=scope)
    message = photo_message(response)
    assert message.startswith("We don't carry anything like your photo here."), message
    assert "The closest types this catalog has are Watches or Tshirts;" in message, message
    assert photo_scope(PHOTO_MIN_SIMILARITY + 0.05, ["Watches"]) is None
    assert photo_scope(None, []) is None


@pytest.mark.parametrize("n, words", [(1, "Here is 1 similar item"), (2, "Here are 2 similar items")])
def test_counts_agree_in_number(n, words):
    assert words in photo_message(_response(n, ParsedQuery(original=""), Filters(categories=["Shirts"])))
