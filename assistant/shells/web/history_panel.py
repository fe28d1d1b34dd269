"""The shopper-facing side of history, as plain functions the Gradio shell wires up: record what
was shown, the "For you" panel, opt-in personal ordering, "Forget me", and kiosk reset (on
"End session" or after `kiosk_idle_seconds` without activity). Testable without a browser."""

from __future__ import annotations

import logging
import threading
import time

from assistant.chat.dialog import Conversation
from assistant.errors import ShopperError
from assistant.recs.history import Event, get_store, new_shopper_id

log = logging.getLogger(__name__)
FOR_YOU_K = 6
MAX_TRACKED = 5000  # sessions whose last recorded response is remembered


class IdleClock:
    """When each session was last active; says when a kiosk session has been idle too long."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = float(idle_seconds)
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def touch(self, sid: str | None, now: float | None = None) -> None:
        if sid:
            with self._lock:
                self._last[sid] = time.monotonic() if now is None else now

    def idle(self, sid: str | None, now: float | None = None) -> bool:
        """True once a known session has had no activity for `idle_seconds` (never when off)."""
        if self.idle_seconds <= 0 or not sid:
            return False
        with self._lock:
            last = self._last.get(sid)
        now = time.monotonic() if now is None else now
        return last is not None and now - last >= self.idle_seconds

    def forget(self, sid: str | None) -> None:
        with self._lock:
            self._last.pop(sid, None)


class ShopperHistory:
    """History actions for the sessions of one app."""

    def __init__(self, assistant) -> None:
        self.assistant = assistant
        self.settings = assistant.settings
        self.clock = IdleClock(self.settings.kiosk_idle_seconds)
        self._recorded: dict[str, object] = {}  # sid -> the response last recorded

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

    def record_shown(self, sid: str, conv: Conversation) -> bool:
        """Record the results on screen as views (and the search, without its text unless allowed),
        once per response. Returns whether anything new was recorded."""
        response = conv.last
        if response is None or not response.results or self._recorded.get(sid) is response:
            return False
        self._recorded[sid] = response
        while len(self._recorded) > MAX_TRACKED:
            self._recorded.pop(next(iter(self._recorded)))
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
        """Recommendations for the panel, as a SearchResponse (cards render them like results)."""
        from assistant.recs.recommend import as_response, get_recommender

        rec = get_recommender(self.assistant, self.catalog(conv))
        return as_response(rec.recommend(self.shopper(conv), k=k))

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

    def forget_me(self, sid: str | None, conv: Conversation) -> str:
        """Delete everything stored about this shopper, compact the file, start a new anonymous id."""
        shopper = getattr(conv, "shopper_id", None)
        deleted = self.store.forget(shopper) if shopper else 0
        conv.shopper_id = new_shopper_id()
        self._recorded.pop(sid, None)
        return (f"Done: I deleted everything stored about this session ({deleted} event"
                f"{'' if deleted == 1 else 's'}) and compacted the history file. "
                "From now on you are a new, anonymous shopper.")

    def end_session(self, sid: str | None, conv: Conversation | None) -> None:
        """Kiosk reset: clear the chat state and filters and drop the shopper id."""
        if conv is not None:
            conv.reset()
            conv.shopper_id = None
        self.clock.forget(sid)
        self._recorded.pop(sid, None)


def safe(fn, *args, default=None):
    """Run a history action for the UI: shopper errors become a message, nothing crashes."""
    try:
        return fn(*args), None
    except ShopperError as exc:
        return default, str(exc)
    except Exception:  # keep serving; never show a traceback to the shopper
        log.exception("history action failed")
        return default, "Sorry, something went wrong with your history. Please try again."


# ---------------------------------------------------------------- Gradio wiring (assistant/shells/web/app.py)
FOR_YOU_EMPTY = "<div class='for-you-empty'>Recommendations for you appear here as you browse.</div>"


class HistoryPanel:
    """The "For you" panel, "Forget me", "End session", the opt-in box and the kiosk timer."""

    def __init__(self, assistant) -> None:
        import gradio as gr

        self.history = ShopperHistory(assistant)
        idle = self.history.settings.kiosk_idle_seconds
        self.personal = gr.Checkbox(False, label="Use my history to order my results (opt-in)",
                                    elem_id="personalize")
        self.for_you = gr.HTML(FOR_YOU_EMPTY, label="For you", elem_id="for-you")
        with gr.Row():
            self.forget = gr.Button("Forget me", elem_id="forget", size="sm")
            self.end = gr.Button("End session", elem_id="end-session", size="sm")
        self.timer = gr.Timer(max(1.0, min(5.0, idle / 4)) if idle > 0 else 5.0, active=idle > 0)

    def for_you_html(self, conv: Conversation, render) -> str:
        response, _ = safe(self.history.for_you, conv)
        if response is None or not response.results:
            return FOR_YOU_EMPTY
        return "<div class='for-you'><h3>For you</h3>" + render(response) + "</div>"

    def wire(self, sessions, common: list, render, on_reset=None) -> None:
        """Attach the listeners. `common` is the app's [sid, chat, cards, chips, facets]."""
        import gradio as gr

        sid, chat, cards = common[0], common[1], common[2]
        h = self.history

        def reset_outputs():
            return (None, [], render(None), gr.update(choices=[], value=[]),
                    gr.update(choices=[], value=None), FOR_YOU_EMPTY, False)

        def after_results(sid_value, history):
            if not sid_value:
                return gr.skip(), gr.skip(), gr.skip()
            conv = sessions.get(sid_value)[1]
            recorded, error = safe(h.record_shown, sid_value, conv, default=False)
            if error:
                return (history or []) + [{"role": "assistant", "content": error}], gr.skip(), gr.skip()
            if not recorded:
                return gr.skip(), gr.skip(), gr.skip()
            moved, _ = safe(h.rerank, conv, default=False)
            return gr.skip(), render(conv.last) if moved else gr.skip(), self.for_you_html(conv, render)

        def on_forget(history, sid_value):
            sid_value, conv = sessions.get(sid_value)
            message, error = safe(h.forget_me, sid_value, conv)
            history = (history or []) + [{"role": "assistant", "content": error or message}]
            return sid_value, history, FOR_YOU_EMPTY, False

        def on_end(sid_value):
            conv = sessions.get(sid_value)[1] if sid_value else None
            h.end_session(sid_value, conv)
            if on_reset:
                on_reset(sid_value)
            return reset_outputs()

        def on_tick(sid_value):
            if not h.clock.idle(sid_value):
                return (gr.skip(),) * 7
            return on_end(sid_value)

        def on_personal(on, history, sid_value):
            sid_value, conv = sessions.get(sid_value)
            message, error = safe(h.personalize, conv, on)
            moved, _ = safe(h.rerank, conv, default=False) if on and not error else (False, None)
            history = (history or []) + [{"role": "assistant", "content": error or message}]
            return sid_value, history, render(conv.last) if moved else gr.skip()

        resets = [*common, self.for_you, self.personal]
        # follow-up work waits its turn on its own queue: answers to shoppers come first
        cards.change(after_results, [sid, chat], [chat, cards, self.for_you],
                     concurrency_limit=self.history.settings.panel_concurrency, concurrency_id="panel")
        chat.change(lambda s: h.clock.touch(s), [sid], None)
        self.forget.click(on_forget, [chat, sid], [sid, chat, self.for_you, self.personal])
        self.end.click(on_end, [sid], resets)
        self.timer.tick(on_tick, [sid], resets)
        self.personal.input(on_personal, [self.personal, chat, sid], [sid, chat, cards])
