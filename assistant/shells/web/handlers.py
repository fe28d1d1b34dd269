"""What each page event does, as plain methods: (session id, inputs) -> `View`, the named change
to the page. No Gradio here: app.py wires these to components and turns a View into an event's
outputs in one place; tests call them directly. The chat transcript is the session's own
(sessions.py), never the one a request carries."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assistant.chat.dialog import Conversation, Reply
from assistant.core import Assistant
from assistant.errors import ShopperError
from assistant.shells.web.cards import (MAX_COMPARE, chips_of, distinguishers, facet_choices, render_cards,
                                        render_compare, render_detail)
from assistant.shells.web.history_panel import FOR_YOU_EMPTY, ShopperHistory, safe
from assistant.shells.web.sessions import SessionStore, WebSession

log = logging.getLogger(__name__)


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()  # a View field left as it is on the page


@dataclass
class View:
    """The change one event makes to the page; fields left at KEEP are not touched."""

    chat: Any = KEEP       # list of {"role", "content"} messages
    cards: Any = KEEP      # cards HTML
    chips: Any = KEEP      # active-filter chips (all ticked)
    facets: Any = KEEP     # "Narrow by" choices (none picked)
    box: Any = KEEP        # the message box
    photo: Any = KEEP      # the photo input (None clears it)
    voice: Any = KEEP      # the voice input (None clears it)
    for_you: Any = KEEP    # the "For you" panel HTML
    personal: Any = KEEP   # the opt-in checkbox
    detail: Any = KEEP     # the product detail HTML ("" hides it)
    compare: Any = KEEP    # the compare table HTML ("" hides it)
    picker: Any = KEEP     # the catalog picker's value


def thumbnail(path: str | None, size: int = 240) -> str | None:
    """A small JPEG data URL of an uploaded photo, so the page keeps showing it after the upload
    itself is deleted; None when it cannot be read (the search says why)."""
    import base64
    import io

    try:
        from PIL import Image

        with Image.open(path) as img:
            img.thumbnail((size, size))
            out = io.BytesIO()
            img.convert("RGB").save(out, "JPEG", quality=80)
        return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()
    except Exception:  # noqa: BLE001 - an unreadable photo is reported by the search itself
        return None


def forget_upload(path: str | None, cache_dir: str | None) -> None:
    """Delete Gradio's cached copy of an uploaded photo once it has been searched."""
    if not path or not cache_dir:
        return
    try:
        file, cache = Path(path).resolve(), Path(cache_dir).resolve()
        if file.is_relative_to(cache) and file.is_file():
            file.unlink()
            if file.parent != cache and not any(file.parent.iterdir()):
                file.parent.rmdir()
    except OSError:
        log.warning("could not delete an uploaded photo from Gradio's cache")


class WebShell:
    """The handlers of one app: its sessions, the history actions, the shared `Assistant`."""

    def __init__(self, assistant: Assistant, catalog: str, upload_dir: str | None = None) -> None:
        settings = assistant.settings
        self.assistant, self.catalog, self.upload_dir = assistant, catalog, upload_dir
        self.history = ShopperHistory(assistant)
        self.keep = settings.max_chat_messages
        self.sessions = SessionStore(lambda: WebSession(Conversation(assistant, catalog=self.catalog)),
                                     settings.max_sessions, settings.session_idle_seconds)

    # ------------------------------------------------------------------ helpers
    def _say(self, session: WebSession, role: str, content: str) -> None:
        limit = self.assistant.settings.max_message_chars
        if len(content) > limit + 40:  # a refused 100 kB message is not kept whole in the transcript
            content = content[:limit] + "…"
        session.say(role, content, self.keep)

    def _results(self, session: WebSession, reply: Reply | None = None, error: str | None = None) -> View:
        """The chat (plus the answer or the error), the cards, chips and facets of the last response."""
        if error:
            self._say(session, "assistant", error)
        elif reply is not None:
            self._say(session, "assistant", reply.message)
        response = session.conversation.last
        photo = session.photo_thumb if response is not None and response.mode == "photo" else None
        session.detail = None
        said = session.chat[-1]["content"] if session.chat and session.chat[-1]["role"] == "assistant" else None
        return View(chat=list(session.chat), cards=render_cards(response, photo, said=said), chips=chips_of(response),
                    facets=facet_choices(response), detail="")

    def _answer(self, session: WebSession, message: str) -> View:
        try:
            text = self.assistant.validate_text(message)
            reply = self._photo_refinement(session, text) or session.conversation.handle(message)
            return replace(self._results(session, reply), compare=self._chat_compare(session, text))
        except ShopperError as exc:
            return self._results(session, error=str(exc))
        except Exception:  # keep serving; never show a traceback to the shopper
            log.exception("message failed")
            return self._results(session, error="Sorry, something went wrong on our side. Please try again.")

    def _run_photo(self, session: WebSession, turn) -> Reply:
        from assistant.vision.photo_index import photo_message

        conv = session.conversation
        response = self.assistant.search_image(turn.query, text=turn.text or None, catalog=conv.catalog,
                                               drop=sorted(turn.drop))
        conv.last, session.photo_turn = response, turn
        return Reply(photo_message(response), response)

    def _chat_compare(self, session: WebSession, message: str) -> Any:
        """"compare 1 and 3" in the chat also fills the compare table (numbered, with photos)."""
        from assistant.chat.answers import referenced_positions

        conv = session.conversation
        if conv.last is None or not conv.last.results or "compar" not in message.lower():
            return KEEP
        shown = conv.last.results
        positions = [len(shown) if p == -1 else p for p in referenced_positions(message)]
        picked = [shown[p - 1].product for p in positions if 1 <= p <= len(shown)]
        if len(picked) < 2:
            return KEEP
        session.compare = picked[:MAX_COMPARE]
        return render_compare(session.compare)

    def _photo_refinement(self, session: WebSession, message: str) -> Reply | None:
        """"in blue", "under $50" after a photo refine the photo search; anything else starts a text search."""
        from assistant.language.understand import parse

        conv, turn = session.conversation, session.photo_turn
        if turn is None or conv.last is None or conv.last.mode != "photo":
            return None
        parsed = parse(message, self.assistant.engine(conv.catalog).vocab)
        if parsed.intent in ("reset", "greeting") or parsed.categories or conv.content_words(parsed):
            session.photo_turn = None
            return None
        return self._run_photo(session, replace(turn, text=f"{turn.text} {message}".strip()))

    # ------------------------------------------------------------------ search events
    def on_message(self, sid: str, message: str | None) -> View:
        session = self.sessions.get(sid)
        self._say(session, "user", message or "")
        return replace(self._answer(session, message), box="")

    def on_photo(self, sid: str, path: str | None, message: str | None) -> View:
        from assistant.vision.photo_index import PhotoTurn

        session = self.sessions.get(sid)
        if not path:
            return replace(self._results(session), photo=None)
        conv, text = session.conversation, (message or "").strip()
        self._say(session, "user", "📷 (photo)" + (f" {text}" if text else ""))
        try:
            self.assistant.photo_search(conv.catalog, wait=False)  # "come back later" while it is being built
            query = self.assistant.understand_image(path, catalog=conv.catalog)
            session.photo_thumb = thumbnail(path)  # the photo stays on the page, the upload does not
            return replace(self._results(session, self._run_photo(session, PhotoTurn(query, text))),
                           photo=None, box="")
        except ShopperError as exc:
            return replace(self._results(session, error=str(exc)), photo=None)
        except Exception:  # keep serving; never show a traceback to the shopper
            log.exception("photo search failed")
            return replace(self._results(session, error="Sorry, something went wrong with that photo. "
                                                       "Please try again."), photo=None)
        finally:
            forget_upload(path, self.upload_dir)

    def on_voice(self, sid: str, recording: str | None, spoken: str | None) -> View:
        """A new recording or upload (docs/voice.md): transcribe it, leave the transcript in the box
        (editable), show it as the shopper's message with the language heard, and search with it."""
        from assistant.speech.transcribe import chat_line, discard_upload

        if not recording:  # cleared (also by ourselves, after a recording was used)
            return View()
        session = self.sessions.get(sid)  # the prompt uses this shopper's catalog's words
        try:
            heard = self.assistant.transcribe(recording, language=None if spoken in (None, "", "auto") else spoken,
                                              catalog=session.conversation.catalog)
        except Exception as exc:  # a shopper error is shown as it is; anything else generically, logged
            if not isinstance(exc, ShopperError):
                log.exception("transcription failed")
            self._say(session, "user", "🎤 (recording)")
            error = str(exc) if isinstance(exc, ShopperError) else "Sorry, I could not listen to that. Please try again."
            return replace(self._results(session, error=error), voice=None)
        finally:
            discard_upload(recording, self.upload_dir)
        self._say(session, "user", chat_line(heard))
        if getattr(heard, "decision", "search") != "search":  # low confidence: never searched as heard
            from assistant.speech.reading import reply  # "Did you mean X or Y?" / "say it again"

            return replace(self._results(session, error=reply(heard)), box=heard.text, voice=None)
        return replace(self._answer(session, heard.text), box=heard.text, voice=None)

    def on_chips(self, sid: str, kept: list[str] | None) -> View:
        session = self.sessions.get(sid)
        conv, kept = session.conversation, list(kept or [])
        try:
            if conv.last is not None and conv.last.mode == "photo" and session.photo_turn is not None:
                turn = session.photo_turn
                removed = set(chips_of(conv.last)) - set(kept)
                return self._results(session, self._run_photo(session, replace(turn, drop=turn.drop | removed)))
            reply = None
            for chip in [c for c in (conv.last.filters.describe() if conv.last else []) if c not in kept]:
                reply = conv.remove_chip(chip)
            return self._results(session, reply)
        except ShopperError as exc:
            return self._results(session, error=str(exc))

    def on_facet(self, sid: str, choice: str | None) -> View:
        session = self.sessions.get(sid)
        if not choice:
            return self._results(session)
        facet, _, rest = choice.partition(": ")
        try:
            return self._results(session, session.conversation.add_filter(facet, rest.rsplit(" (", 1)[0]))
        except ShopperError as exc:
            return self._results(session, error=str(exc))

    def on_catalog(self, sid: str, name: str) -> View:
        """A catalog picked in the dropdown. Opening it and clicking or tabbing away sends the
        value it already had: that changes nothing (it used to wipe the chat and results)."""
        session = self.sessions.get(sid)
        conv = session.conversation
        if not name or name == (conv.catalog or self.catalog):
            return View()
        conv.catalog = name
        conv.reset()
        session.photo_turn = session.photo_thumb = session.detail = None
        session.compare = []
        session.chat = [{"role": "assistant", "content": f"Now searching the '{name}' catalog."}]
        return View(chat=list(session.chat), cards=render_cards(None), chips=[], facets=[], detail="",
                    compare="")

    # ------------------------------------------------------------------ product detail and compare
    def _product(self, session: WebSession, product_id: str):
        conv = session.conversation
        for r in (conv.last.results if conv.last else []):
            if r.product.id == product_id:
                return r.product
        for p in session.compare:
            if p.id == product_id:
                return p
        engine = self.assistant.engine(conv.catalog)
        return engine.products[engine.position(product_id)]

    def _detail(self, session: WebSession) -> str:
        p = session.detail
        if p is None:
            return ""
        shown = [r.product for r in session.conversation.last.results] if session.conversation.last else []
        note = distinguishers(shown + [q for q in session.compare if q not in shown] or [p]).get(p.id, "")
        return render_detail(p, note, in_compare=any(q.id == p.id for q in session.compare))

    def on_open(self, sid: str, product_id: str | None) -> View:
        """A card clicked or Enter pressed on it: its detail (photo, every attribute, price)."""
        session = self.sessions.get(sid)
        if not product_id:
            return View()
        try:
            session.detail = self._product(session, str(product_id))
        except ShopperError as exc:
            self._say(session, "assistant", str(exc))
            return View(chat=list(session.chat))
        return View(detail=self._detail(session))

    def on_detail_action(self, sid: str, action: str | None, product_id: str | None) -> View:
        """The detail's and the compare table's buttons: more like this, (un)compare, close."""
        session = self.sessions.get(sid)
        conv = session.conversation
        try:
            if action == "more" and product_id:
                product = self._product(session, product_id)
                engine = self.assistant.engine(conv.catalog)
                k = self.assistant.settings.default_k
                # the filters the results on screen met (a relaxed colour is not one of them)
                filters = conv.last.filters if conv.last is not None and conv.last.mode != "photo" else None
                response = engine.similar(product.id, k=k, filters=filters)
                conv.last = response if response.results or filters is None else engine.similar(product.id, k=k)
                session.photo_turn = None
                return self._results(session, Reply(f"More like “{product.title}”:", conv.last))
            if action == "compare" and product_id:
                product = self._product(session, product_id)
                if not any(p.id == product.id for p in session.compare):
                    session.compare = [*session.compare, product][-MAX_COMPARE:]
            elif action == "uncompare":
                session.compare = [p for p in session.compare if p.id != product_id]
            elif action == "clear-compare":
                session.compare = []
            elif action == "close":
                session.detail = None
            return View(detail=self._detail(session), compare=render_compare(session.compare))
        except ShopperError as exc:
            return self._results(session, error=str(exc))

    def on_clear(self, sid: str) -> View:
        """The chat's clear (trash) icon: the conversation starts over, so results, chips, the
        photo and compare go too ("in brown" must not refine what was cleared)."""
        session = self.sessions.get(sid)
        session.conversation.reset()
        session.chat, session.photo_turn, session.photo_thumb, session.detail = [], None, None, None
        session.compare = []
        return View(chat=[], cards=render_cards(None), chips=[], facets=[], detail="", compare="")

    # ------------------------------------------------------------------ history panel (docs/privacy.md)
    def for_you_html(self, conv: Conversation) -> str:
        response, _ = safe(self.history.for_you, conv)
        if response is None or not response.results:
            return FOR_YOU_EMPTY
        return "<div class='for-you'><h3>For you</h3>" + render_cards(response, summary=False) + "</div>"

    def after_results(self, sid: str) -> View:
        """After new cards: record them as views, apply the opt-in ordering, refresh "For you"."""
        session = self.sessions.peek(sid)  # a session ended meanwhile is not brought back
        if session is None or self.assistant.settings.kiosk:  # a kiosk stores nothing beyond the session
            return View()
        recorded, error = safe(self.history.record_shown, session, default=False)
        if error:
            self._say(session, "assistant", error)
            return View(chat=list(session.chat))
        if not recorded:
            return View()
        conv = session.conversation
        moved, _ = safe(self.history.rerank, conv, default=False)
        return View(cards=render_cards(conv.last) if moved else KEEP, for_you=self.for_you_html(conv))

    def on_forget(self, sid: str) -> View:
        session = self.sessions.get(sid)
        message, error = safe(self.history.forget_me, session)
        self._say(session, "assistant", error or message)
        return View(chat=list(session.chat), for_you=FOR_YOU_EMPTY, personal=False)

    def on_personal(self, sid: str, on: bool) -> View:
        session = self.sessions.get(sid)
        conv = session.conversation
        message, error = safe(self.history.personalize, conv, on)
        moved, _ = safe(self.history.rerank, conv, default=False) if on and not error else (False, None)
        self._say(session, "assistant", error or message)
        return View(chat=list(session.chat), cards=render_cards(conv.last) if moved else KEEP)

    def on_end(self, sid: str) -> View:
        """"End session" and kiosk reset: the session's state is cleared and leaves the store."""
        session = self.sessions.peek(sid)
        if session is not None:
            self.history.end_session(session)
        self.sessions.drop(sid)
        # the next session searches the app's own catalog: the picker says so (it kept "demo")
        return View(chat=[], cards=render_cards(None), chips=[], facets=[], for_you=FOR_YOU_EMPTY,
                    personal=False, detail="", compare="", picker=self.catalog)

    def on_tick(self, sid: str) -> View:
        """The kiosk timer: reset a session idle for `kiosk_idle_seconds` (a tick is not activity)."""
        session = self.sessions.peek(sid)
        if session is None or not self.history.idle(session):
            return View()
        return self.on_end(sid)

    def on_unload(self, sid: str) -> None:
        """The page was closed or reloaded: nothing of the session stays on the server."""
        self.sessions.drop(sid)
