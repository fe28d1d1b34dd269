"""The shopper-facing side of history, as plain functions the web shell's handlers call: record
what was shown, the "For you" panel, opt-in personal ordering, "Forget me", and kiosk reset (on
"End session" or after `kiosk_idle_seconds` without activity). What it remembers per browser
session lives on that session (sessions.py). Testable without a browser."""

from __future__ import annotations

import logging
import time

from assistant.chat.dialog import Conversation
from assistant.errors import ShopperError
from assistant.recs.history import Event, get_store, new_shopper_id

log = logging.getLogger(__name__)
FOR_YOU_K = 6


class ShopperHistory:
    """History actions for the sessions of one app."""

    def __init__(self, assistant) -> None:
        self.assistant = assistant
        self.settings = assistant.settings

    @property
    def store(self):
        return get_store(self.settings)

    @staticmethod
    def shopper(conv: Conversation) -> str:
        """The conversation's anonymous shopper id, created on first use (never the session id)."""
        if not getattr(conv, "shopper_id", None):
            conv.shopper_id = new_shopper_id()
        return conv.shopper_id

    def catalog(self, conv: Conversation) -> str:
        return conv.catalog or self.assistant.default_catalog()

    def record_shown(self, session) -> bool:
        """Record the results on screen as views (and the search, without its text unless allowed),
        once per response. Returns whether anything new was recorded."""
        conv = session.conversation
        response = conv.last
        if response is None or not response.results or session.recorded is response:
            return False
        session.recorded = response
        shopper, catalog = self.shopper(conv), self.catalog(conv)
        events = [Event(shopper, "view", catalog, r.product.id) for r in response.results]
        if response.mode != "photo":
            events.append(Event(shopper, "query", catalog, query=conv.text or None))
        self.store.record_many(events)
        if self.settings.debug:
            log.debug("recorded search %r with %d results", conv.text, len(response.results))
        return True

    def record(self, conv: Conversation, kind: str, product_id: str) -> None:
        """A click, add-to-cart or purchase."""
        self.store.record(self.shopper(conv), kind, self.catalog(conv), product_id)

    def for_you(self, conv: Conversation, k: int = FOR_YOU_K):
        """Recommendations for the panel, as a SearchResponse (cards render them like results);
        they meet the active filters, as the results do (issue 20: a $2,199 sofa under "under $800")."""
        from assistant.recs.recommend import as_response, get_recommender

        rec = get_recommender(self.assistant, self.catalog(conv))
        active = conv.last.filters if conv.last is not None else None  # the chips on screen
        return as_response(rec.recommend(self.shopper(conv), k=k, filters=active))

    def personalize(self, conv: Conversation, on: bool) -> str:
        self.store.set_personalize(self.shopper(conv), bool(on))
        return ("I will use what you viewed here to nudge your results (a few places at most)."
                if on else "Your results are no longer ordered by your history.")

    def rerank(self, conv: Conversation) -> bool:
        """Apply the opt-in personal ordering to the current results; True if it ran."""
        from assistant.recs.recommend import get_recommender

        if conv.last is None or not conv.last.results or conv.last.mode not in ("smart", "hybrid", "keyword", "dense"):
            return False
        if not self.store.personalize(self.shopper(conv)):
            return False
        get_recommender(self.assistant, self.catalog(conv)).rerank(
            self.shopper(conv), conv.last, self.settings.personal_max_shift)
        return True

    def forget_me(self, session) -> str:
        """Delete everything stored about this shopper, compact the file, start a new anonymous id."""
        conv = session.conversation
        shopper = getattr(conv, "shopper_id", None)
        deleted = self.store.forget(shopper) if shopper else 0
        conv.shopper_id = new_shopper_id()
        session.recorded = None
        return (f"Done: I deleted everything stored about this session ({deleted} event"
                f"{'' if deleted == 1 else 's'}) and compacted the history file. "
                "From now on you are a new, anonymous shopper.")

    def end_session(self, session) -> None:
        """Kiosk reset: clear the chat state and filters and drop the shopper id."""
        session.conversation.reset()
        session.conversation.shopper_id = None
        session.chat, session.photo_turn, session.recorded = [], None, None
        session.photo_thumb, session.compare, session.detail = None, [], None

    def idle(self, session, now: float | None = None) -> bool:
        """True once a kiosk session has had no activity for `kiosk_idle_seconds` (never when 0, or
        outside kiosk mode)."""
        idle = self.settings.kiosk_idle_seconds if self.settings.kiosk else 0
        now = time.monotonic() if now is None else now
        return idle > 0 and now - session.last_active >= idle


def safe(fn, *args, default=None):
    """Run a history action for the UI: shopper errors become a message, nothing crashes."""
    try:
        return fn(*args), None
    except ShopperError as exc:
        return default, str(exc)
    except Exception:  # keep serving; never show a traceback to the shopper
        log.exception("history action failed")
        return default, "Sorry, something went wrong with your history. Please try again."


# ---------------------------------------------------------------- the page (assistant/shells/web/panels/shopper.py)
FOR_YOU_EMPTY = "<div class='for-you-empty'>Recommendations for you appear here as you browse.</div>"
