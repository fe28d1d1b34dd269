"""Turn the signals a result carries into one short, honest sentence: why it is here."""

from __future__ import annotations

from assistant.retrieval.search import Result

STRONG_SEMANTIC = 0.55


def explain(result: Result) -> str:
    """E.g. "Matches 'black', 'heels'; is Women, Black, Heels; very close to what you asked for": plain
    words a shopper reads, never a raw score (the scores are in the API's `signals`)."""
    parts: list[str] = []
    if result.matched_words:
        parts.append("matches " + ", ".join(f"'{w}'" for w in result.matched_words[:4]))
    if result.matched_attributes:
        parts.append("is " + ", ".join(result.matched_attributes[:5]))
    if result.missed_attributes:
        parts.append("close alternative (not " + ", not ".join(result.missed_attributes[:3]) + ")")
    if result.dense_score is not None and (result.dense_rank or 999) <= 50:
        parts.append("very close to what you asked for" if result.dense_score >= STRONG_SEMANTIC
                     else "related to what you asked for")
    if not parts:
        return "Shown because it fits your filters."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def explain_all(results: list[Result]) -> None:
    for r in results:
        r.why = explain(r)
