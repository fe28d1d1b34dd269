"""Query understanding: free text in, a structured query out (filters, negations, sort, intent).

Pure functions over a catalog `Vocabulary`; no I/O. Words are matched on folded, stemmed
n-grams (longest first), then by fuzzy match for typos, so "womens blak heals" still finds
`gender=Women, color=Black, category=Heels`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from assistant.language.text import NO_COMPOUNDS, STOPWORDS, fold, stem, words
from assistant.language.vocabulary import Vocabulary
from assistant.retrieval.facets import BY_NAME, FACETS, Constraints

MAX_NGRAM = 4
FUZZY_MIN_SCORE = 80
COMPOUND_MIN_SCORE = 85  # two words joined are long: ask more of them before calling them a typo
ENGLISH_TYPO_SCORE = 90  # a foreign-looking word this close to a catalog word is an English slip ("leggins")
NO_FUZZ = frozenset("best good nice size large small long short wide tall high new more less blue "
                    "with from that this what which light dark warm cool soft hard "
                    "than have just also into over under about there their very much really other "
                    # function words of the other languages shoppers type ("reloj para mujer")
                    "para pour avec sans como sobre dans ohne unter uber eine einen desde hasta menos "
                    "pero muito quero busco cherche".split())

_NUM = r"(\d+(?:[.,]\d+)?)\s*(k)?"
_CUR = r"(?:\$|usd|us\$|€|eur|£|gbp|¥|元|rs\.?|inr|₹)?"
_CUR_AFTER = r"\s*(?:dollars?|bucks|usd|euros?|eur|pounds?|元|块|rupees?)?"
PRICE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("between", re.compile(rf"\b(?:between|from)\s*{_CUR}\s*{_NUM}{_CUR_AFTER}\s*(?:and|to|-)\s*{_CUR}\s*{_NUM}{_CUR_AFTER}")),
    ("range", re.compile(rf"{_CUR}\s*{_NUM}{_CUR_AFTER}\s*(?:-|–|to)\s*{_CUR}\s*{_NUM}{_CUR_AFTER}(?=\s|$)")),
    ("max", re.compile(rf"(?:\b(?:under|below|less than|cheaper than|lower than|max(?:imum)?|at most|up to|upto|within|no more than|not more than|menos de|moins de|unter)|<=?)\s*{_CUR}\s*{_NUM}{_CUR_AFTER}")),
    ("min", re.compile(rf"(?:\b(?:over|above|more than|at least|min(?:imum)?|from|starting at|greater than|mas de|plus de|uber)|>=?)\s*{_CUR}\s*{_NUM}{_CUR_AFTER}")),
    ("max", re.compile(rf"{_CUR}\s*{_NUM}{_CUR_AFTER}\s*(?:or less|and under|and below|max|以下|以内|之内)")),
    ("min", re.compile(rf"{_CUR}\s*{_NUM}{_CUR_AFTER}\s*(?:or more|and up|and above|plus|\+|以上)")),
]
SORT_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("price_asc", re.compile(r"\b(?:cheapest|lowest price[d]?|least expensive|price low to high|low to high|cheap|cheaper|inexpensive|affordable|budget|bargain)\b|便宜")),
    ("price_desc", re.compile(r"\b(?:most expensive|priciest|highest price[d]?|price high to low|high to low|premium|luxury)\b")),
    ("rating_desc", re.compile(r"\b(?:best|top|highest)[\s-]rated\b|\b(?:best reviewed|most popular|best ?sellers?|top picks?)\b|评价最好")),
    ("newest", re.compile(r"\b(?:newest|latest|new arrivals?|most recent)\b|最新")),
]
NEGATION = re.compile(r"\b(?:not|no|without|except|excluding|non|sans|sin|ohne|minus)\b[\s-]+((?:(?!and\b|or\b|but\b|with\b|under\b|over\b|for\b)[^\W\d_][\w-]*\s*){1,2})")
INTENT_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("reset", re.compile(r"^\s*(?:start over|reset|clear( all)?( filters)?|new search|forget (it|that)|begin again)\b")),
    ("greeting", re.compile(r"^\s*(?:hi|hello|hey|hola|bonjour|你好|good (morning|afternoon|evening)|help|what can you do)\b[\s!.?]*$")),
    ("compare", re.compile(r"\bcompare\b|\bdifference between\b|\bvs\.?\b|\bversus\b")),
    ("question", re.compile(r"^\s*(?:is|are|does|do|can|how|what|which|tell me (?:more )?about|describe|details)\b.*\b(?:first|second|third|fourth|fifth|last|it|this|that|one|\d(?:st|nd|rd|th)?)\b")),
    ("recommend", re.compile(r"\b(?:recommend|suggest|for you|what should i|surprise me|similar to what i)\b")),
    ("more_like", re.compile(r"\b(?:more like|similar to|like the)\b.*\b(?:first|second|third|fourth|fifth|last|one|\d)\b")),
]
SIZE_PATTERNS = [
    re.compile(r"\b\d+(?:\.\d+)?\s*(?:x|by|×)\s*\d+(?:\.\d+)?(?:\s*(?:ft|feet|foot|in|inch(?:es)?|cm|m)\b)?"),
    re.compile(r"\b\d+(?:\.\d+)?(?:\s*(?:-|\s)?\s*(?:inch(?:es)?|in\b|\"|''|ft\b|feet|foot|cm\b|mm\b|meters?\b))"),
    re.compile(r"\b(?:twin|full|queen|king|california king|cal king)(?:\s*size)?\b"),
    re.compile(r"\bsize\s*(?:xxs|xs|s|m|l|xl|xxl|xxxl|\d{1,2}(?:\.5)?)\b"),
    re.compile(r"\b(?:xxs|xs|xl|xxl|xxxl)\b"),
    re.compile(r"\b\d\s*(?:-\s*)?(?:seat(?:er)?s?|person|piece|drawers?)\b"),
]
IMITATION = frozenset("faux vegan imitation fake artificial synthetic pleather".split())
REFINE_START = re.compile(r"^\s*(?:in|only|just|but|and|with|without|not|no|under|over|below|above|cheaper|less|more|make it|same|instead|now|what about|how about|any)\b")


@dataclass
class ParsedQuery(Constraints):
    """What a shopper asked for: price bounds, facet values and negations (`Constraints`), plus
    what is left to search (`text`) after that structure is taken out."""

    original: str
    text: str = ""
    sizes: list[str] = field(default_factory=list)
    sort: str | None = None
    intent: str = "search"
    matched: dict[str, str] = field(default_factory=dict)  # query words -> "facet=value"
    corrected: dict[str, str] = field(default_factory=dict)  # misspelt words -> what they were read as
    language: str | None = None  # a query in another language: its code (es, fr, de, it, pt, zh)
    translated: dict[str, str] = field(default_factory=dict)  # foreign text -> how it was read in English

    def to_dict(self) -> dict:
        data = asdict(self)  # what was typed first, then the constraints, then the rest
        return {"original": data.pop("original"), "text": data.pop("text"), **data}

    def has_filters(self) -> bool:
        return not self.is_empty()


def _amount(number: str, thousands: str | None) -> float:
    value = float(number.replace(",", "")) if number.count(",") and len(number.split(",")[-1]) == 3 \
        else float(number.replace(",", "."))
    return value * 1000 if thousands else value


def _take_prices(text: str, parsed: ParsedQuery) -> str:
    for kind, pattern in PRICE_PATTERNS:
        for m in list(pattern.finditer(text)):
            groups = m.groups()
            if kind in ("between", "range"):
                low, high = _amount(groups[0], groups[1]), _amount(groups[2], groups[3])
                if kind == "range" and not re.search(r"[$€£¥]|dollar|usd|eur|元", m.group(0)):
                    continue  # "2-seater" or "5-10 years" are not prices
                parsed.price_min, parsed.price_max = min(low, high), max(low, high)
            elif kind == "max":
                parsed.price_max = _amount(groups[0], groups[1])
            else:
                parsed.price_min = _amount(groups[0], groups[1])
            text = text.replace(m.group(0), " ")
    return text


def _take_sort(text: str, parsed: ParsedQuery) -> str:
    for name, pattern in SORT_PATTERNS:
        m = pattern.search(text)
        if m:
            parsed.sort = parsed.sort or name
            text = pattern.sub(" ", text)
    return text


def _take_negations(text: str, parsed: ParsedQuery, vocab: Vocabulary | None) -> str:
    for m in list(NEGATION.finditer(text)):
        phrase = m.group(1).strip()
        tokens = phrase.split()
        # keep the shortest prefix that names a catalog value, else the whole phrase (max 2 words)
        chosen = phrase
        if vocab is not None:
            for n in range(1, len(tokens) + 1):
                if vocab.lookup(" ".join(stem(t) for t in tokens[:n])):
                    chosen = " ".join(tokens[:n])
                    break
            else:
                chosen = tokens[0] if tokens else phrase
        parsed.exclude.append(chosen)
        text = text.replace(m.group(0), " " + phrase[len(chosen):] + " ", 1)
    return text


def _segment_cjk(text: str, vocab: Vocabulary | None) -> str:
    """Put spaces around known CJK vocabulary words (greedy longest match), since CJK has none."""
    if not re.search(r"[\u4e00-\u9fff]", text) or vocab is None:
        return text
    cjk_keys = sorted((k for k in vocab.phrases if re.search(r"[\u4e00-\u9fff]", k)), key=len, reverse=True)
    if not cjk_keys:
        return text
    return re.sub("|".join(map(re.escape, cjk_keys)), lambda m: f" {m.group(0)} ", text)


def _match_vocabulary(tokens: list[str], parsed: ParsedQuery, vocab: Vocabulary,
                      exact: frozenset[str] = frozenset()) -> tuple[list[bool], dict[str, list[str]]]:
    """Greedy longest n-gram match, then fuzzy single words; returns which tokens were used and
    the product types each matched phrase named."""
    used = [False] * len(tokens)
    types: dict[str, list[str]] = {}

    def take(hits: list[tuple[str, str]], words_seen: str) -> None:
        _apply_hits(parsed, hits, words_seen)
        named = [v for f, v in hits if f == "category"]
        if named:
            known = types.setdefault(words_seen, [])
            known += [v for v in named if v not in known]

    def take_guesses(keys: list[str], typed: str) -> bool:
        """Apply what a misspelt word was guessed to mean, and remember it for the answer."""
        hits = [vocab.lookup(key) for key in keys]
        for found in hits:
            take(found, typed)
        values = [v for found in hits for _, v in found]
        if values:
            parsed.corrected[typed] = " or ".join(dict.fromkeys(values))
        return bool(keys)

    stems = [stem(t) for t in tokens]
    spans: list[tuple[int, int, str]] = []
    i = 0
    while i < len(tokens):
        # a compound written as two words ("sun glasses", "sweat shirt")
        if i + 1 < len(tokens) and not vocab.lookup(stems[i]) and vocab.lookup(stem(tokens[i] + tokens[i + 1])):
            take(vocab.lookup(stem(tokens[i] + tokens[i + 1])), f"{tokens[i]} {tokens[i + 1]}")
            used[i:i + 2] = [True, True]
            i += 2
            continue
        for n in range(min(MAX_NGRAM, len(tokens) - i), 0, -1):
            key = " ".join(stems[i:i + n])
            hits = vocab.lookup(key)
            if i > 0 and tokens[i - 1] in IMITATION:  # "faux leather" is not leather
                hits = [(f, v) for f, v in hits if f != "material"]
            if hits:
                take(hits, " ".join(tokens[i:i + n]))
                used[i:i + n] = [True] * n
                i += n
                break
        else:
            i += 1
    forms = vocab.single_word_forms()
    candidates = list(forms)
    for i, token in enumerate(stems):
        if used[i] or token in STOPWORDS or not _may_be_typo(tokens[i], vocab) or not candidates \
                or tokens[i] in exact:  # a dictionary's English word is spelt right
            continue
        used[i] = take_guesses(_typo_guesses({token, tokens[i]}, candidates, forms, vocab), tokens[i])
    for i in range(len(tokens) - 1):  # a misspelt compound typed as two words ("flip flpos")
        joined = tokens[i] + tokens[i + 1]
        if used[i] or used[i + 1] or not joined.isalpha() or len(joined) < 7 or {tokens[i], tokens[i + 1]} & exact:
            continue
        keys = _typo_guesses({joined, stem(joined)}, candidates, forms, vocab, min_score=COMPOUND_MIN_SCORE)
        used[i] = used[i + 1] = take_guesses(keys, f"{tokens[i]} {tokens[i + 1]}")
    return used, types


def _may_be_typo(word: str, vocab: Vocabulary) -> bool:
    """Only words of four letters or more that neither the catalog uses ("pulse" is not a typo of
    "purse") nor are everyday words we keep as typed ("para", "size") are guessed at."""
    return len(word) >= 4 and word.isalpha() and word not in NO_FUZZ and word not in vocab.known_words


def _mend_phrase_typos(tokens: list[str], parsed: ParsedQuery, vocab: Vocabulary,
                       exact: frozenset[str] = frozenset()) -> list[str]:
    """Spell a misspelt word the way a two-word catalog phrase does when its other word is there
    exactly ("dress shaes" -> "dress shoe", "clutth purse", "shool bag"), so the phrase, not its
    halves ("dress" + "shoes"), is matched."""
    out = list(tokens)
    after, before = vocab.two_word_neighbours
    for i in range(len(out) - 1):
        a, b = stem(out[i]), stem(out[i + 1])
        if f"{a} {b}" in vocab.phrases:
            continue
        for typo, wanted in ((i + 1, after.get(a, [])), (i, before.get(b, []))):
            word = out[typo]
            if not wanted or not _may_be_typo(word, vocab) or vocab.lookup(stem(word)) or word in exact:
                continue
            scored = [(max(_typo_score(word, w), _typo_score(word, w + "s")), w) for w in wanted]
            scored = [sw for sw in scored if sw[0] >= FUZZY_MIN_SCORE]
            if scored:
                out[typo] = max(scored)[1]
                parsed.corrected[word] = f"'{out[typo]}'"
                break
    return out


def _typo_score(a: str, b: str, **_: object) -> float:
    """The more lenient of the Indel ratio (a dropped or doubled letter: "jens", "perffume") and
    OSA similarity (two neighbouring letters swapped count as one slip: "sikrt", "perfuem")."""
    return max(fuzz.ratio(a, b), OSA.normalized_similarity(a, b) * 100)


def _typo_guesses(spellings: set[str], candidates: list[str], forms: dict[str, str],
                  vocab: Vocabulary, min_score: float = FUZZY_MIN_SCORE) -> list[str]:
    """Vocabulary keys a misspelt word most likely meant. Among equally close words the one a
    swap explains wins ("sikrt" is skirt, not shirt); a true tie between types keeps both
    ("shrts": shirts or shorts), any other tie goes to the value more products carry."""
    scored: dict[str, tuple[float, float]] = {}
    for spelling in spellings:
        for cand, score, _ in process.extract(spelling, candidates, scorer=_typo_score,
                                              score_cutoff=min_score, limit=5):
            scored[cand] = max(scored.get(cand, (0.0, 0.0)),
                               (score, OSA.normalized_similarity(spelling, cand)))
    # gender words are short and common in every language: guess them only from a long word
    longest = max(len(s) for s in spellings)
    scored = {c: v for c, v in scored.items()
              if longest >= 6 or any(f != "gender" for f, _ in vocab.lookup(forms[c]))}
    if not scored:
        return []
    best = max(scored.values())
    keys = list(dict.fromkeys(forms[c] for c, v in scored.items() if v == best))
    if len(keys) > 1 and all(f == "category" for k in keys for f, _ in vocab.lookup(k)):
        return keys
    return [max(keys, key=vocab.frequency)]


def _apply_hits(parsed: ParsedQuery, hits: list[tuple[str, str]], words_seen: str) -> None:
    for facet, value in hits:
        target = getattr(parsed, BY_NAME[facet].field)
        if value not in target:
            target.append(value)
    parsed.matched[words_seen] = ", ".join(f"{f}={v}" for f, v in hits)


def _semantic_category(tokens: list[str], used: list[bool], parsed: ParsedQuery,
                       vocab: Vocabulary, matcher, types: dict[str, list[str]] | None = None) -> None:
    """Name the product type from the words that are not colour/gender/occasion/brand words,
    when the vocabulary found no type, or found types in several separate words ("dress shoes").
    Adjacent type words name one thing, the last one ("jeans jacket" is a jacket): when the
    meaning names only the first word's type, the last word's types are taken."""
    non_type = {w for phrase, hit in parsed.matched.items() if "category=" not in hit for w in phrase.split()}
    type_spans = [phrase for phrase, hit in parsed.matched.items() if "category=" in hit]
    content = [t for t, u in zip(tokens, used) if t not in STOPWORDS and t not in non_type
               and not t.isdigit() and (u or t not in vocab.known_words or not parsed.categories)]
    if not content:
        return
    refining = bool(parsed.categories) and len(type_spans) < 2
    if refining and all(u for u in used if u) and all(t in " ".join(type_spans).split() for t in content):
        return  # the type was named in plain catalog words: nothing to add
    hits = matcher.match(" ".join(content))
    if refining:  # "jogging shoes": keep only narrower types of what was named ("Shoes")
        named = set(parsed.categories)
        hits = [(n, s) for n, s in hits if n not in named and vocab.ancestors.get(n, set()) & named]
    head = _head_types(types or {}, tokens)
    if head and not any(n in head or vocab.ancestors.get(n, set()) & set(head) for n, _ in hits):
        hits = [(n, 1.0) for n in head]  # the meaning named only the modifier ("jeans" of a jacket)
    if hits:
        parsed.categories[:] = [name for name, _ in hits]
        parsed.matched[" ".join(content)] = ", ".join(f"category={n}" for n, _ in hits) + " (by meaning)"


def _adjacent_spans(types: dict[str, list[str]], tokens: list[str]) -> list[str]:
    """The type-naming spans in the order typed, when they stand next to each other; else []."""
    text = f" {' '.join(tokens)} "
    spans = sorted(types, key=lambda span: text.find(f" {span} "))
    return spans if len(spans) >= 2 and f" {' '.join(spans)} " in text else []


def _head_types(types: dict[str, list[str]], tokens: list[str]) -> list[str]:
    """English names a thing by its last noun: of adjacent type words, the last one's types."""
    spans = _adjacent_spans(types, tokens)
    return types[spans[-1]] if spans else []


def _nested_types(types: dict[str, list[str]], tokens: list[str], vocab: Vocabulary) -> list[str]:
    """When adjacent words name types and one word's types are each narrower than, or one of, the
    types of every other word ("oxford" -> Formal Shoes, "shoes" -> Shoes; "clutch" -> Clutches,
    "purse" -> Handbags/Wallets/Clutches) or carry its word ("traek" -> Track Pants, "pants"),
    those types. Words apart ("a throw with pillows") may name two things, so they are left
    alone. `types`: matched phrase -> the types it named."""
    spans = _adjacent_spans(types, tokens)
    if not spans:
        return []

    def narrower(t: str, other: str) -> bool:  # a kind of, one of, or named with the other's types
        return bool(vocab.ancestors.get(t, set()) & set(types[other])) or \
            vocab.key(other) in vocab.key(t).split()

    for span in spans:
        if all(narrower(t, other) for t in types[span] for other in spans if other != span):
            return types[span]
    return []


def retrieval_text(parsed: ParsedQuery, vocab_words: set[str] | None = None) -> str:
    """The text to retrieve with: the understood attributes in the catalog's own words, plus
    the words that were not understood. "tacones negros para mujer" and "women's black heels"
    both become "Women Black Heels ...", so a query in any language ranks like its English twin."""
    if not parsed.matched:
        return parsed.text or parsed.original
    consumed = {w for phrase in parsed.matched for w in phrase.split()}
    # words the catalog itself uses are kept as typed ("high heels"); others only if unmatched
    leftover = [w for w in words(parsed.text) if w not in STOPWORDS and (
        w not in consumed or (vocab_words is not None and w in vocab_words))]
    values = (parsed.genders + parsed.colors + parsed.occasions + parsed.brands + parsed.materials
              + parsed.categories)
    return " ".join(list(dict.fromkeys(values)) + leftover) or parsed.text or parsed.original


def detect_intent(text: str) -> str:
    folded = fold(text)
    for name, pattern in INTENT_PATTERNS:
        if pattern.search(folded):
            return name
    return "refine" if REFINE_START.match(folded) else "search"


def _read_foreign(query: str, tokens: list[str], parsed: ParsedQuery, vocab: Vocabulary, reader) -> list[str]:
    """English tokens for a query in another language (see translate.py); the tokens as they are
    for English, or when no resource knows the words."""
    stems = [stem(t) for t in tokens]
    in_phrase: set[str] = set()  # words of a catalog phrase the query has ("eau de toilette")
    for i in range(len(tokens)):
        for n in range(min(MAX_NGRAM, len(tokens) - i), 1, -1):
            if vocab.lookup(" ".join(stems[i:i + n])):
                in_phrase.update(tokens[i:i + n])
                break

    def known(word: str) -> bool:  # English to the catalog: as spelt, or as a typo it would guess
        if word in in_phrase or word in vocab.known_words or vocab.lookup(stem(word)):
            return True
        forms = vocab.single_word_forms()
        return _may_be_typo(word, vocab) and bool(_typo_guesses({word, stem(word)}, list(forms), forms, vocab,
                                                                 min_score=ENGLISH_TYPO_SCORE))

    def lookup(phrase: str) -> bool:
        return phrase in in_phrase or bool(vocab.lookup(vocab.key(phrase) or phrase))

    english, reading = reader.read(query, tokens, known, lookup, vocab.names_type)
    if reading is not None:
        english = vocab.words(" ".join(english))  # the reader's "t-shirt" meets the catalog's "tshirt"
        parsed.language = reading.language
        parsed.translated[query.strip()] = " ".join(english)
    return english


def _kind_of(tokens: list[str], used: list[bool], parsed: ParsedQuery, vocab: Vocabulary, wordnet,
             matcher=None) -> bool:
    """Name the product type from a noun the catalog does not use, through WordNet: what it is a
    kind of ("slacks" -> trousers) or the compound it starts ("bermuda" -> bermuda shorts); the
    meaning of that phrase may narrow a broad type ("tennis shoe": Shoes -> Sports Shoes)."""
    def names_type(phrase: str) -> bool:
        return vocab.names_type(phrase, parts=False)

    for i, token in enumerate(tokens):
        if used[i] or token in STOPWORDS or token.isdigit():
            continue
        found = wordnet.type_word(token, names_type)
        if found:
            hits = [(f, v) for f, v in (vocab.lookup(vocab.key(found) or found)
                                         or vocab.lookup(vocab.key(found.split()[-1]))) if f == "category"]
            named = {v for _, v in hits}
            narrower = [("category", n) for n, _ in (matcher.match(found) if matcher is not None else [])
                        if n not in named and vocab.ancestors.get(n, set()) & named]
            _apply_hits(parsed, narrower or hits, token)
            parsed.matched[token] += f" (WordNet: {found})"
            used[i] = True
            return True
    return False


def parse(query: str, vocab: Vocabulary | None = None, matcher=None, reader=None,
          wordnet=None) -> ParsedQuery:
    """Parse one message. Without a vocabulary only price, sort, negation and intent are found;
    with a `reader` (translate.Reader) a query in another language is read into English first;
    with `wordnet` (wordnet.WordNet) a noun the catalog does not use may still name a type."""
    parsed = ParsedQuery(original=query, intent=detect_intent(query))
    compounds = vocab.compounds if vocab is not None else NO_COMPOUNDS
    text = fold(query, compounds)
    text = _take_prices(text, parsed)
    for pattern in SIZE_PATTERNS:
        for m in pattern.finditer(text):
            size = re.sub(r"\s+", " ", m.group(0)).strip()
            if size and not any(size in s for s in parsed.sizes):
                parsed.sizes.append(size)
    text = _take_sort(text, parsed)
    text = _take_negations(text, parsed, vocab)
    text = _segment_cjk(text, vocab)
    tokens = words(text, compounds)
    exact: frozenset[str] = frozenset()
    if vocab is not None and reader is not None:
        typed = set(tokens)
        tokens = _read_foreign(query, tokens, parsed, vocab, reader)
        exact = frozenset(t for t in tokens if t not in typed)  # English from a dictionary
    if vocab is not None:
        tokens = _mend_phrase_typos(tokens, parsed, vocab, exact)
        used, types = _match_vocabulary(tokens, parsed, vocab, exact)
        narrowest = _nested_types(types, tokens, vocab)
        if narrowest:  # "oxford shoes": Formal Shoes is a kind of Shoes, so the words agree
            parsed.categories[:] = narrowest
        elif not (wordnet is not None and not parsed.categories and _kind_of(tokens, used, parsed, vocab, wordnet, matcher)) \
                and matcher is not None:
            _semantic_category(tokens, used, parsed, vocab, matcher, types)
    # a facet value the shopper excluded must not also be a filter ("shoes not black")
    excluded_keys = {" ".join(stem(w) for w in e.split()) for e in parsed.exclude}
    for facet in FACETS:
        values = getattr(parsed, facet.field)
        values[:] = [v for v in values if " ".join(stem(w) for w in words(v, compounds)) not in excluded_keys]
    if parsed.translated:  # say what was understood, as a typo guess is ("I read 'bufanda gris' as ...")
        values = parsed.genders + parsed.colors + parsed.occasions + parsed.materials + parsed.categories
        typed = next(iter(parsed.translated))
        parsed.translated[typed] = " ".join(dict.fromkeys(values)) if values else f"'{parsed.translated[typed]}'"
    parsed.text = " ".join(t for t in tokens if t not in STOPWORDS and t not in
                           {"price", "priced", "cost", "costing", "dollars", "usd"}).strip()
    return parsed
