"""Grounded answers about shown products: questions, descriptions, comparisons.

Every fact comes from the product's own record and is quoted; when the record does not hold the
answer, the reply says so plainly instead of guessing. No numbers are produced that are not in
the record (a test checks this)."""

from __future__ import annotations

import re

from catalog.schema import Product, money

from assistant.language.text import stem, words

ORDINALS = {"first": 1, "1st": 1, "one": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3,
            "three": 3, "fourth": 4, "4th": 4, "four": 4, "fifth": 5, "5th": 5, "five": 5,
            "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9,
            "9th": 9, "tenth": 10, "10th": 10}
# question words -> record fields or attribute keys they ask about
FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "wide": ("width", "overallwidth"), "width": ("width", "overallwidth"), "broad": ("width",),
    "deep": ("depth", "overalldepth"), "depth": ("depth", "overalldepth"),
    "tall": ("height", "overallheight"), "high": ("height", "heel height"), "height": ("height",),
    "long": ("length",), "length": ("length",), "big": ("width", "dimensions", "size"),
    "size": ("sizes", "size", "dimensions"), "sizes": ("sizes", "size"), "fit": ("fit",),
    "wash": ("care",), "washable": ("care",), "clean": ("care",), "care": ("care",),
    "material": ("material",), "made": ("material",), "fabric": ("material", "fabric"),
    "color": ("colors",), "colour": ("colors",), "brand": ("brand",), "maker": ("brand",),
    "price": ("price",), "cost": ("price",), "much": ("price",), "expensive": ("price",),
    "rating": ("rating",), "rated": ("rating",), "review": ("rating",), "reviews": ("rating",),
    "warranty": ("warranty",), "guarantee": ("warranty",), "battery": ("battery life",),
    "arms": ("arms",), "seat": ("seats",), "seats": ("seats",), "assembly": ("assembly required",),
    "assemble": ("assembly required",), "weight": ("weight",), "heavy": ("weight",),
    "waterproof": ("water resistance", "waterproof"), "water": ("water resistance", "waterproof"),
    "gender": ("gender",), "occasion": ("occasion",), "season": ("season",),
}


def referenced_positions(text: str) -> list[int]:
    """1-based result positions a message refers to: "the second one", "1 and 3", "#2", "last"."""
    folded = text.lower()
    found: list[int] = []
    for m in re.finditer(r"#?\b(\d{1,2})(?:st|nd|rd|th)?\b|\b([a-z0-9]+)\b", folded):
        if m.group(1):
            if not re.search(rf"\$\s*{m.group(1)}\b|\b{m.group(1)}\s*(?:dollars|usd|in|inch|cm)", folded):
                found.append(int(m.group(1)))
        elif m.group(2) in ORDINALS and m.group(2) not in ("one",):
            found.append(ORDINALS[m.group(2)])
        elif m.group(2) == "last":
            found.append(-1)
    return list(dict.fromkeys(found))


def _field_value(p: Product, key: str) -> str | None:
    if key == "price":
        return money(p.price, p.currency) if p.price is not None else None
    if key == "rating":
        if p.rating is None:
            return None
        return f"{p.rating:g} out of 5" + (f" from {p.rating_count} ratings" if p.rating_count else "")
    if key == "colors":
        return ", ".join(p.colors) or None
    if key in ("material", "brand", "gender", "occasion"):
        return getattr(p, key) or None
    for attr, value in p.attributes.items():
        if attr.lower() == key or attr.lower().startswith(key):
            return value
    return None


def answer_question(p: Product, question: str) -> str:
    """Answer from the record, quoting it; say plainly when the catalog does not know."""
    qwords = words(question)
    keys: list[str] = []
    for w in qwords:
        keys += FIELD_WORDS.get(w, ())
    # attribute names or values that share a word with the question ("machine washable")
    qstems = {stem(w) for w in qwords if len(w) > 3}
    for attr, value in p.attributes.items():
        if qstems & {stem(w) for w in words(attr)} or qstems & {stem(w) for w in words(value)}:
            keys.append(attr.lower())
    facts = []
    for key in dict.fromkeys(keys):
        value = _field_value(p, key)
        if value is not None:
            label = next((a for a in p.attributes if a.lower() == key or a.lower().startswith(key)), key)
            facts.append(f"{label}: “{value}”")
    if facts:
        return f"{p.title} — {'; '.join(dict.fromkeys(facts))} (from the product's details)."
    known = ", ".join(list(p.attributes)[:6])
    return (f"The catalog doesn't say that about {p.title}."
            + (f" It lists: {known}." if known else " It has no further details."))


def describe(p: Product) -> str:
    """A short grounded description: title, price, the store's text and its listed details."""
    parts = [p.title]
    if p.price is not None:
        parts.append(f"price {_field_value(p, 'price')}")
    if p.brand:
        parts.append(f"brand {p.brand}")
    if p.colors:
        parts.append("colour " + ", ".join(p.colors))
    if p.material:
        parts.append(f"material {p.material}")
    text = " · ".join(parts) + "."
    if p.description:
        text += f" “{p.description}”"
    details = [f"{k}: {v}" for k, v in p.attributes.items()][:8]
    if details:
        text += " Details — " + "; ".join(details) + "."
    return text


def compare(products: list[Product]) -> str:
    """A side-by-side of the fields the products have, as a Markdown table."""
    rows = [("price", [(_field_value(p, "price") or "—") for p in products]),
            ("brand", [p.brand or "—" for p in products]),
            ("colour", [", ".join(p.colors) or "—" for p in products]),
            ("material", [p.material or "—" for p in products]),
            ("rating", [(_field_value(p, "rating") or "—") for p in products])]
    shared = [k for k in products[0].attributes if all(k in p.attributes for p in products[1:])]
    rows += [(k, [p.attributes[k] for p in products]) for k in shared[:8]]
    head = "| | " + " | ".join(p.title for p in products) + " |"
    sep = "|---" * (len(products) + 1) + "|"
    body = ["| " + name + " | " + " | ".join(values) + " |" for name, values in rows
            if any(v != "—" for v in values)]
    return "\n".join([head, sep, *body])
