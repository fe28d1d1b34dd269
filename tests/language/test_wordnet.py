"""Nouns the catalog never uses, read through WordNet (Debian wordnet-base): the real noun files
and the real fashion engine, no mocks."""

from __future__ import annotations

import logging

import pytest

from assistant.language.understand import parse
from assistant.language.wordnet import WordNet, wordnet_for


@pytest.mark.parametrize("query, category", [
    ("bermudas for men", "Shorts"),  # WordNet: the one compound it starts that names a type
    ("chronograph", "Watches"),  # a kind of watch
    ("tennis for men", "Sports Shoes"),  # "tennis shoe", narrowed by meaning from Shoes
    ("bermuda masculina", "Shorts"),  # a foreign query whose word no dictionary reads
])
def test_a_noun_the_catalog_does_not_use_names_its_type(fashion, query, category):
    parsed = fashion.parse(query)
    assert category in parsed.categories, parsed
    assert "WordNet" in " ".join(parsed.matched.values()), parsed.matched
    without = parse(query, fashion.vocab, fashion.matcher, reader=fashion.reader)
    assert category not in without.categories, without


def test_a_word_is_read_in_its_own_most_frequent_sense(settings):
    """"night" starts "night watch", but that watch is a vigil, not the timepiece the catalog sells."""
    wordnet = wordnet_for(str(settings.wordnet_dir))
    assert isinstance(wordnet, WordNet)
    names_type = lambda phrase: phrase in {"watch", "shoe", "shorts"}  # noqa: E731
    assert wordnet.type_word("night", names_type) is None
    assert wordnet.type_word("bermudas", names_type) == "bermuda shorts"


def test_missing_wordnet_reads_queries_as_before_with_one_log_line(fashion, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="assistant.language.wordnet"):
        assert wordnet_for(str(tmp_path / "no-wordnet")) is None
    assert any("WordNet unavailable" in r.getMessage() for r in caplog.records)
    assert parse("bermudas for men", fashion.vocab, fashion.matcher, wordnet=None).categories == []


def test_unreadable_wordnet_is_parsed_only_when_asked_and_then_reads_as_missing(fashion, tmp_path, caplog):
    """The noun files are parsed on the first query that needs them, not when the engine loads; a
    damaged file then logs one line and the query is read as without WordNet."""
    (tmp_path / "index.noun").write_text("slacks n many\n", encoding="latin-1")  # a count that is not a number
    (tmp_path / "data.noun").write_text("", encoding="latin-1")
    wordnet = wordnet_for(str(tmp_path))
    assert isinstance(wordnet, WordNet) and not wordnet.senses  # nothing parsed yet
    with caplog.at_level(logging.WARNING, logger="assistant.language.wordnet"):
        parsed = parse("bermudas for men", fashion.vocab, fashion.matcher, wordnet=wordnet)
        assert wordnet.type_word("chronograph", lambda phrase: True) is None
    assert parsed.categories == []
    assert [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()] and \
        sum("could not be read" in r.getMessage() for r in caplog.records) == 1
