"""The conversation: keeps the current query and filters across turns so a shopper can narrow
("in grey", "under 800", "without arms"), remove chips, or start over."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.chat.answers import answer_question, compare, describe, referenced_positions
from assistant.core import Assistant
from assistant.errors import ShopperError
from assistant.retrieval.scope import text_scope
from assistant.retrieval.search import FILTER_FIELDS, Filters, SearchResponse, merge_filters
from assistant.language.text import STOPWORDS, stem, words
from assistant.language.understand import ParsedQuery, parse

HELP = ("Tell me what you are looking for, e.g. \"women's black heels\", \"grey sofa under $800\" "
        "or \"running shoes, not leather\". Then narrow it: \"in blue\", \"cheaper\", \"start over\".")


@dataclass
class Reply:
    """What the shells render: a message, and results when there are any."""

    message: str
    response: SearchResponse | None = None
    chips: list[str] = field(default_factory=list)


@dataclass
class Conversation:
    """State of one shopper's chat with the assistant."""

    assistant: Assistant
    catalog: str | None = None
    text: str = ""
    filters: Filters = field(default_factory=Filters)
    sort: str | None = None
    last: SearchResponse | None = None
    shopper_id: str | None = None  # anonymous history id (assistant/shells/web/history_panel.py); None until used
    focus: int | None = None  # 1-based position of the product last talked about

    def reset(self) -> None:
        self.text, self.filters, self.sort, self.last = "", Filters(), None, None

    def content_words(self, parsed: ParsedQuery) -> list[str]:
        """Words that are not filters: a new subject means a new search, not a refinement."""
        taken = {stem(w) for phrase in parsed.matched for w in words(phrase)}
        return [w for w in words(parsed.text) if stem(w) not in taken and w not in STOPWORDS
                and w not in {"in", "only", "just", "but", "now", "instead", "show", "ones", "one"}]

    def handle(self, message: str) -> Reply:
        message = self.assistant.validate_text(message)
        engine = self.assistant.engine(self.catalog)
        parsed = engine.parse(message)
        if parsed.intent == "greeting":
            return Reply(HELP)
        if parsed.intent == "reset":
            self.reset()
            return Reply("Starting over. What are you looking for?")
        if (parsed.intent == "search" and self.last is not None and message.rstrip().endswith("?")
                and re.match(r"^\s*(how|what|is|are|does|do|can|which)\b", message.lower())):
            parsed.intent = "question"  # "how many seats?" after results asks about them
        if parsed.intent in ("question", "compare", "more_like"):
            reply = self._about_results(message, parsed.intent)
            if reply is not None:
                return reply
        refining = self.last is not None and (
            parsed.intent == "refine" or (not self.content_words(parsed) and not parsed.categories))
        if not refining and parsed.intent == "search":
            scope = text_scope(parsed, engine.matcher, engine.vocab, self.assistant.scope_reference(self.catalog))
            if scope is not None:  # a type the catalog lacks: say so rather than show unrelated things
                self.reset()
                return Reply(scope.message())
        notes: list[str] = []
        previous = self.last.total if refining and self.last is not None else None
        if refining:
            new = Filters.from_parsed(parsed)
            # a newly named value replaces the old one of the same kind ("in blue" after "grey")
            base = replace(self.filters, **{f: [] for f in FILTER_FIELDS if getattr(new, f)})
            filters = merge_filters(base, new)
            if None not in (filters.price_min, filters.price_max) and filters.price_min > filters.price_max:
                # "over 500" after "under 100": the bound just named replaces the one it contradicts
                filters.price_max, filters.price_min = (None, filters.price_min) if new.price_min is not None \
                    else (filters.price_max, None)
            if self._wants_cheaper(message) and not np.isnan(engine.policy.prices).all():
                below = self._cheaper_than_shown(engine, filters)
                if below is None:
                    return self._unchanged("There is nothing cheaper than what is shown here.")
                filters.price_max, parsed.sort = below, parsed.sort or "price_asc"
            extra = " ".join(self.content_words(parsed))
            query_text = f"{self.text} {extra}".strip()
        else:
            filters = Filters.from_parsed(parsed)
            query_text = parsed.text or message
        if (filters.price_min is not None or filters.price_max is not None) and np.isnan(engine.policy.prices).all():
            # a price on a catalog without prices would match nothing and lose the other filters
            filters.price_min = filters.price_max = None
            notes.append("This catalog lists no prices, so I left the price out and kept your other filters.")
        self.filters = filters
        if not refining:
            self.text = query_text
        self.sort = parsed.sort or self.sort if refining else parsed.sort
        query = ParsedQuery(original=query_text, text=query_text, sort=self.sort, intent=parsed.intent)
        response = self.assistant.search(query, catalog=self.catalog, filters=self.filters)
        self.last = response
        read_as = {**parsed.translated, **parsed.corrected}  # foreign words and typos, said the same way
        summary = self._summary(response, previous, read_as)
        return Reply(" ".join([summary, *notes]), response, response.filters.describe())

    def _cheaper_than_shown(self, engine, filters: Filters) -> float | None:
        """The highest price, among products meeting the other filters, below the cheapest product
        on screen: as an (inclusive) price cap it keeps exactly the cheaper ones of the same kind.
        None: nothing of that kind is cheaper (a cap from the whole catalog made the search relax
        to other kinds: "cheaper" grey sofas became anything under $295)."""
        shown = [r.product.price for r in (self.last.results if self.last else []) if r.product.price is not None]
        if not shown:
            return None
        prices = engine.policy.prices[engine.policy.mask(replace(filters, price_min=None, price_max=None))]
        lower = prices[prices < min(shown)]
        return float(lower.max()) if lower.size else None

    def _unchanged(self, message: str) -> Reply:
        """A reply that keeps the results on screen as they are."""
        return Reply(message, self.last, self.last.filters.describe() if self.last else [])

    def _about_results(self, message: str, intent: str) -> Reply | None:
        """Questions, descriptions, comparisons and "more like" about the results on screen."""
        if self.last is None or not self.last.results:
            if intent == "question" and not referenced_positions(message):
                return None  # a plain question-shaped search ("what shoes go with jeans")
            return Reply("Search for something first; then ask about the results by number, "
                         "e.g. \"tell me about the first one\".")
        shown = self.last.results
        positions = [len(shown) if p == -1 else p for p in referenced_positions(message)]
        bad = [p for p in positions if not 1 <= p <= len(shown)]
        if bad:
            return Reply(f"I only showed {len(shown)} results; pick a number from 1 to {len(shown)}.",
                         self.last, self.last.filters.describe())
        if intent == "compare":
            if len(positions) < 2:
                return Reply("Tell me which results to compare, e.g. \"compare 1 and 3\".",
                             self.last, self.last.filters.describe())
            return Reply(compare([shown[p - 1].product for p in positions]), self.last,
                         self.last.filters.describe())
        position = positions[0] if positions else (self.focus or 1)
        self.focus = position
        product = shown[position - 1].product
        if intent == "more_like":
            engine = self.assistant.engine(self.catalog)
            response = engine.similar(product.id, k=self.assistant.settings.default_k, filters=self.filters)
            self.last = response
            return Reply(f"More like “{product.title}”:", response, response.filters.describe())
        if re.match(r"^\s*(tell me (more )?about|describe|details|more about)\b", message.lower()):
            return Reply(describe(product), self.last, self.last.filters.describe())
        return Reply(answer_question(product, message), self.last, self.last.filters.describe())

    @staticmethod
    def _wants_cheaper(message: str) -> bool:
        return any(w in message.lower() for w in ("cheaper", "less expensive", "lower price"))

    def remove_chip(self, chip: str) -> Reply:
        """Drop one active filter (as labelled by `Filters.describe`) and search again."""
        if self.last is None:
            raise ShopperError("There is no search to change yet.")
        f = self.filters
        if chip == self.last.filters.price_chip():
            f.price_min = f.price_max = None
        elif chip.startswith("not "):
            f.exclude = [e for e in f.exclude if e != chip[4:]]
        for name in FILTER_FIELDS:
            setattr(f, name, [v for v in getattr(f, name) if v != chip])
        query = ParsedQuery(original=self.text, text=self.text, sort=self.sort)
        previous = self.last.total
        response = self.assistant.search(query, catalog=self.catalog, filters=f)
        self.last = response
        return Reply(self._summary(response, previous), response, response.filters.describe())

    def add_filter(self, facet: str, value: str) -> Reply:
        """Narrow by a facet value the shopper picked (e.g. a colour chip)."""
        if self.last is None:
            raise ShopperError("Search for something first, then narrow it down.")
        names = {v: k for k, v in FILTER_FIELDS.items()}
        if facet not in names:
            raise ShopperError(f"Unknown filter '{facet}'.")
        values = getattr(self.filters, names[facet])
        if value not in values:
            values.append(value)
        query = ParsedQuery(original=self.text, text=self.text, sort=self.sort)
        previous = self.last.total
        response = self.assistant.search(query, catalog=self.catalog, filters=self.filters)
        self.last = response
        return Reply(self._summary(response, previous), response, response.filters.describe())

    @staticmethod
    def _summary(response: SearchResponse, previous: int | None = None,
                 corrected: dict[str, str] | None = None) -> str:
        """What happened, in words that match it: "Narrowed" only when there are fewer matches than
        before, "Widened" when more (`previous`: the total before a refinement; None: new search)."""
        # say how misspelt words were read, so a wrong guess is easy to spot and retype
        read_as = (" (I read " + ", ".join(f"'{typed}' as {meant}" for typed, meant in corrected.items())
                   + ".)") if corrected else ""
        if not response.results:
            return "I found nothing that matches. Try fewer filters or other words." + read_as
        if previous is None:
            head = "Here is what I found"
        elif response.total < previous:
            head = f"Narrowed it down from {previous}"
        elif response.total > previous:
            head = f"Widened it from {previous}"
        else:
            head = "Updated"
        chips = response.filters.describe()
        count = f"{response.total} match" + ("" if response.total == 1 else "es")
        text = f"{head}: {count}" + (f" ({', '.join(chips)})" if chips else "") + "."
        if response.relaxed:
            text += " Nothing matched every detail, so I relaxed: " + ", ".join(
                FILTER_FIELDS[r] for r in response.relaxed) + "."
        return text + read_as
