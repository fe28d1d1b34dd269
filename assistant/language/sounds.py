"""Words that sound like the catalog's (issue 19): a spoken query's misheard word ("cup" for "cap",
"move" for "mauve", "rest" for "rust") is read as the catalog word it sounds like.

Used on transcripts only (typed text goes through the typo reader in understand.py, so typed
results do not change). A transcript word is replaced when it names nothing in the catalog, and a
catalog word (a one-word key of the vocabulary: types, colours, genders, everyday words) has the
same Metaphone code (jellyfish) and a close enough spelling (rapidfuzz ratio >= MIN_RATIO); the
most frequent such word in the catalog wins.
"""

from __future__ import annotations

from functools import lru_cache

from rapidfuzz import fuzz

from assistant.language.text import STOPWORDS, stem, words

MIN_RATIO = 50
MIN_LENGTH = 3
# common English words Whisper writes when it hears a sentence, never read as a product word
# ("What is this" is not "white is this"); a general list, not drawn from any query set
EVERYDAY_ENGLISH = frozenset("""what who whom whose where when why how which there their they them then than
those these here have has had was were will would could should shall your you yours our ours his hers she
we us be been being do does did done not yes yeah yep nope okay so but or if at by from up out about into
onto just get got go going gone home know known let see seen say said one all can cannot can't don't won't
very really well also too now new old good bad more most some any many much such only own same other
thing things time way day make made take took come came give gave look looked like liked want wanted
this that with the and for are is it its""".split())
_CODES: dict[int, tuple[object, dict[str, list[str]]]] = {}


def metaphone(word: str) -> str:
    return _metaphone(word) if word.isascii() else ""


@lru_cache(maxsize=1 << 14)
def _metaphone(word: str) -> str:
    import jellyfish

    return jellyfish.metaphone(word)


def _codes(vocab) -> dict[str, list[str]]:
    """Metaphone code -> one-word vocabulary keys with that sound (built once per vocabulary)."""
    cached = _CODES.get(id(vocab))
    if cached is not None and cached[0] is vocab:
        return cached[1]
    codes: dict[str, list[str]] = {}
    keys = set(vocab.phrases) | set(vocab.heads)
    for key in keys:
        if " " in key or len(key) < MIN_LENGTH or not key.isalpha() or key in STOPWORDS:
            continue
        for form in {key, key + "s"}:
            code = metaphone(form)
            if code and key not in codes.setdefault(code, []):
                codes[code].append(key)
    _CODES[id(vocab)] = (vocab, codes)
    return codes


def sounds_like(word: str, vocab, named: frozenset[str] | set[str] = frozenset(), english=None) -> str | None:
    """The catalog word `word` sounds like, or None (the word already names something, is too short,
    a stopword or an everyday English word, or nothing sounds like it; `english(word)` keeps foreign
    words of the vocabulary, "homme", "gris", out). A word for a facet the
    reading already names (`named`: "category", "color", …) is not taken: "grey slippers" misheard as
    "brake slippers" is not "brogue slippers", a second product type."""
    if len(word) < MIN_LENGTH or word in STOPWORDS or word in EVERYDAY_ENGLISH or not word.isalpha() \
            or vocab.lookup(stem(word)):
        return None
    codes = _codes(vocab)
    found = {k for form in {word, stem(word)} for k in codes.get(metaphone(form), [])
             if not {f for f, _ in vocab.lookup(k)} & set(named) and (english is None or english(k))}
    scored = [(fuzz.ratio(word, k), vocab.frequency(k), k) for k in found]
    scored = [s for s in scored if s[0] >= MIN_RATIO]
    return max(scored)[2] if scored else None


def mend(text: str, vocab, covered: set[str] | frozenset[str] = frozenset(),
         named: set[str] | frozenset[str] = frozenset(), english=None) -> tuple[str, dict[str, str]]:
    """`text` with each misheard word replaced by the catalog word it sounds like; and what changed.

    Words in `covered` (already read into catalog attributes by the parser) stay. A reading in which
    no word names anything is mended only when it is a single word ("cup" -> "cap"): in a sentence of
    everyday English ("I don't know what to do") a word that sounds like a colour is not one."""
    tokens = words(text)
    content = [w for w in tokens if w not in STOPWORDS]
    if not covered and len(content) > 1:
        return text, {}
    changed: dict[str, str] = {}
    out = []
    for w in tokens:
        new = None if w in covered else sounds_like(w, vocab, named, english)
        if new:
            changed[w] = new
            named = set(named) | {f for f, _ in vocab.lookup(new)}
        out.append(new or w)
    return (" ".join(out), changed) if changed else (text, {})
