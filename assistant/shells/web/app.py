"""The Gradio shell: declares components and wires events to `Conversation` methods.
No search logic lives here; it only renders what the library returns."""

from __future__ import annotations

import html
import logging
import threading
import uuid
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI

from assistant.config import Settings, get_settings
from assistant.core import Assistant
from assistant.chat.dialog import Conversation, Reply
from assistant.errors import ShopperError
from assistant.retrieval.search import SearchResponse
from assistant.shells.api.routes import api_app
from assistant.shells.web.served_images import PRODUCT_IMAGES
from assistant.speech.transcribe import VOICE_LANGUAGES

log = logging.getLogger(__name__)

PLACEHOLDER = ("data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='160' height='160'>"
               "<rect width='100%25' height='100%25' fill='%23eef0f3'/><text x='50%25' y='52%25' "
               "font-size='14' text-anchor='middle' fill='%23889'>no photo</text></svg>")
CSS = """
.cards {display:grid; grid-template-columns:repeat(auto-fill,minmax(180px,1fr)); gap:12px;}
.card {border:1px solid #e3e5e8; border-radius:10px; padding:8px; background:#fff; color:#222;}
.card img {width:100%; height:170px; object-fit:contain; background:#f7f7f8; border-radius:6px;}
.card .title {font-weight:600; font-size:14px; margin:6px 0 2px;}
.card .meta {font-size:12px; color:#555;}
.card .price {font-weight:700; color:#0a6b3d;}
.card .why {font-size:12px; color:#345; margin-top:4px; font-style:italic;}
"""
MAX_SESSIONS = 5000


class PhotoInput(gr.Image):
    """gr.Image that hands over the uploaded file untouched: our own checks (assistant/vision/images.py)
    give the shopper a clear message for a bad file instead of Gradio's generic error."""

    is_template = True  # rendered by the frontend's Image component

    def preprocess(self, payload):
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)


def forget_upload(path: str | None, cache_dir: str) -> None:
    """Delete Gradio's cached copy of an uploaded photo once it has been searched."""
    if not path:
        return
    try:
        file, cache = Path(path).resolve(), Path(cache_dir).resolve()
        if file.is_relative_to(cache) and file.is_file():
            file.unlink()
            if file.parent != cache and not any(file.parent.iterdir()):
                file.parent.rmdir()
    except OSError:
        log.warning("could not delete an uploaded photo from Gradio's cache")


def image_url(path: str) -> str:
    """A remote photo as it is; a local one through the served-images route (only files a
    catalog lists, by opaque token); anything else the placeholder."""
    if path and "://" in path:
        return html.escape(path, quote=True)
    url = PRODUCT_IMAGES.url(path) if path else None
    return html.escape(url or PLACEHOLDER, quote=True)


def render_cards(response: SearchResponse | None) -> str:
    if response is None or not response.results:
        return "<div class='cards-empty'>No products to show yet.</div>"
    cards = []
    for r in response.results:
        p = r.product
        price = f"<span class='price'>${p.price:,.2f}</span> · " if p.price is not None else ""
        cards.append(
            f"<div class='card' data-product-id='{html.escape(p.id)}'>"
            f"<img src='{image_url(p.image)}' alt='{html.escape(p.title)}' loading='lazy'/>"
            f"<div class='title'>{r.rank}. {html.escape(p.title)}</div>"
            f"<div class='meta'>{price}{html.escape(p.leaf_category)}"
            f"{' · ' + html.escape(p.brand) if p.brand else ''}</div>"
            f"<div class='why'>{html.escape(r.why)}</div></div>")
    return "<div class='cards'>" + "".join(cards) + "</div>"


def facet_choices(response: SearchResponse | None) -> list[str]:
    if response is None:
        return []
    active = set(response.filters.describe())
    return [f"{facet}: {value} ({n})" for facet, values in response.facets.items()
            for value, n in values if value not in active and n < response.total][:24]


class Sessions:
    """One `Conversation` per browser session, keyed by an id kept in `gr.State`."""

    def __init__(self, assistant: Assistant, catalog: str | None) -> None:
        self.assistant, self.catalog = assistant, catalog
        self._items: dict[str, Conversation] = {}
        self._lock = threading.Lock()

    def get(self, sid: str | None) -> tuple[str, Conversation]:
        with self._lock:
            if not sid or sid not in self._items:
                sid = sid or uuid.uuid4().hex
                if len(self._items) >= MAX_SESSIONS:
                    self._items.pop(next(iter(self._items)))
                self._items[sid] = Conversation(self.assistant, catalog=self.catalog)
            return sid, self._items[sid]


def build_app(assistant: Assistant, catalog: str | None = None) -> gr.Blocks:
    catalogs = assistant.catalogs()
    first = catalog or assistant.default_catalog()
    sessions = Sessions(assistant, first)
    photo_turns: dict = {}  # sid -> PhotoTurn: the last photo search (its vector, never the file)

    def run_photo(sid: str, conv: Conversation, turn) -> Reply:
        from assistant.vision.photo_index import photo_message

        response = assistant.search_image(turn.query, text=turn.text or None, catalog=conv.catalog,
                                          drop=sorted(turn.drop))
        conv.last = response
        photo_turns[sid] = turn
        while len(photo_turns) > MAX_SESSIONS:
            photo_turns.pop(next(iter(photo_turns)))
        return Reply(photo_message(response), response)

    def on_photo(path: str | None, message: str, history: list, sid: str | None):
        from assistant.vision.photo_index import PhotoTurn

        sid, conv = sessions.get(sid)
        if not path:
            return (None, message) + outputs(sid, history or [], None)
        text = (message or "").strip()
        history = (history or []) + [{"role": "user", "content": "📷 (photo)" + (f" {text}" if text else "")}]
        try:
            assistant.photo_search(conv.catalog, wait=False)  # "come back later" while it is being built
            query = assistant.understand_image(path, catalog=conv.catalog)
            return (None, "") + outputs(sid, history, run_photo(sid, conv, PhotoTurn(query, text)))
        except ShopperError as exc:
            return (None, message) + outputs(sid, history, None, str(exc))
        except Exception:  # keep serving; never show a traceback to the shopper
            log.exception("photo search failed")
            return (None, message) + outputs(sid, history, None, "Sorry, something went wrong with that photo. Please try again.")
        finally:
            forget_upload(path, photo.GRADIO_CACHE)

    def photo_refinement(sid: str, conv: Conversation, message: str) -> Reply | None:
        """"in blue", "under $50" after a photo refine the photo search; anything else starts a text search."""
        from dataclasses import replace as _replace

        from assistant.language.understand import parse

        turn = photo_turns.get(sid)
        if turn is None or conv.last is None or conv.last.mode != "photo":
            return None
        parsed = parse(message, assistant.engine(conv.catalog).vocab)
        if parsed.intent in ("reset", "greeting") or parsed.categories or conv._content_words(parsed):
            photo_turns.pop(sid, None)
            return None
        return run_photo(sid, conv, _replace(turn, text=f"{turn.text} {message}".strip()))

    def outputs(sid: str, history: list, reply: Reply | None, error: str | None = None):
        conv = sessions.get(sid)[1]
        if error:
            history = history + [{"role": "assistant", "content": error}]
        elif reply is not None:
            history = history + [{"role": "assistant", "content": reply.message}]
        response = conv.last
        chips = response.filters.describe() if response else []
        if response is not None and response.mode == "photo":
            from assistant.vision.photo_index import photo_chips

            chips = photo_chips(response)
        return (sid, history, render_cards(response), gr.update(choices=chips, value=chips),
                gr.update(choices=facet_choices(response), value=None))

    def on_message(message: str, history: list, sid: str | None):
        sid, conv = sessions.get(sid)
        history = (history or []) + [{"role": "user", "content": message or ""}]
        try:
            reply = photo_refinement(sid, conv, assistant.validate_text(message)) or conv.handle(message)
            return ("",) + outputs(sid, history, reply)
        except ShopperError as exc:
            return ("",) + outputs(sid, history, None, str(exc))
        except Exception:  # keep serving; never show a traceback to the shopper
            log.exception("message failed")
            return ("",) + outputs(sid, history, None, "Sorry, something went wrong on our side. Please try again.")

    def on_voice(recording: str | None, spoken: str, history: list, sid: str | None):
        """A new recording or upload (docs/voice.md): transcribe it, leave the transcript in the box
        (editable), show it as the shopper's message with the language heard, and search with it."""
        from assistant.speech.transcribe import chat_line, discard_upload

        if not recording:  # cleared (also by ourselves, after a recording was used)
            return (gr.skip(),) * (2 + len(common))
        history = history or []
        sid, conv = sessions.get(sid)  # the prompt uses this shopper's catalog's words
        try:
            heard = assistant.transcribe(recording, language=None if spoken in (None, "", "auto") else spoken,
                                         catalog=conv.catalog)
        except ShopperError as exc:
            sid = sessions.get(sid)[0]
            turn = history + [{"role": "user", "content": "🎤 (recording)"}]
            return (gr.skip(), None) + outputs(sid, turn, None, str(exc))
        except Exception:  # keep serving; never show a traceback to the shopper
            log.exception("transcription failed")
            sid = sessions.get(sid)[0]
            turn = history + [{"role": "user", "content": "🎤 (recording)"}]
            return (gr.skip(), None) + outputs(sid, turn, None, "Sorry, I could not listen to that. Please try again.")
        finally:
            discard_upload(recording, voice.GRADIO_CACHE)
        result = on_message(heard.text, history, sid)
        result[2][len(history)]["content"] = chat_line(heard)
        return (heard.text, None) + result[1:]

    def on_chips(kept: list[str], history: list, sid: str | None):
        sid, conv = sessions.get(sid)
        if conv.last is not None and conv.last.mode == "photo" and sid in photo_turns:
            from dataclasses import replace as _replace

            from assistant.vision.photo_index import photo_chips

            removed = set(photo_chips(conv.last)) - set(kept or [])
            turn = photo_turns[sid]
            try:
                return outputs(sid, history or [], run_photo(sid, conv, _replace(turn, drop=turn.drop | removed)))
            except ShopperError as exc:
                return outputs(sid, history or [], None, str(exc))
        current = conv.last.filters.describe() if conv.last else []
        removed = [c for c in current if c not in (kept or [])]
        try:
            reply = None
            for chip in removed:
                reply = conv.remove_chip(chip)
            return outputs(sid, history or [], reply)
        except ShopperError as exc:
            return outputs(sid, history or [], None, str(exc))

    def on_facet(choice: str | None, history: list, sid: str | None):
        sid, conv = sessions.get(sid)
        if not choice:
            return outputs(sid, history or [], None)
        facet, _, rest = choice.partition(": ")
        value = rest.rsplit(" (", 1)[0]
        try:
            return outputs(sid, history or [], conv.add_filter(facet, value))
        except ShopperError as exc:
            return outputs(sid, history or [], None, str(exc))

    def on_catalog(name: str, sid: str | None):
        sid, conv = sessions.get(sid)
        conv.catalog = name
        conv.reset()
        photo_turns.pop(sid, None)
        return (sid, [{"role": "assistant", "content": f"Now searching the '{name}' catalog."}],
                render_cards(None), gr.update(choices=[], value=[]), gr.update(choices=[], value=None))

    with gr.Blocks(title="Shopping assistant") as app:
        sid = gr.State(None)
        gr.Markdown("## Shopping assistant\nAsk for a product in your own words, then narrow it down.")
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                picker = gr.Dropdown(catalogs, value=first, label="Catalog", visible=len(catalogs) > 1,
                                     elem_id="catalog-picker")
                chat = gr.Chatbot(label="Chat", height=420, elem_id="chat")
                box = gr.Textbox(placeholder="e.g. women's black heels, grey sofa under $800",
                                 label="Your message", elem_id="message", max_lines=3)
                send = gr.Button("Search", variant="primary", elem_id="send")
                photo = PhotoInput(sources=["upload", "webcam"], type="filepath", image_mode=None,
                                   label="…or search with a photo (upload or camera)", elem_id="photo",
                                   height=200)
                with gr.Row():  # voice queries (docs/voice.md)
                    voice = gr.Audio(sources=["microphone", "upload"], type="filepath", elem_id="voice",
                                     label="…or say it (microphone or audio file)", scale=3)
                    voice_language = gr.Dropdown(VOICE_LANGUAGES, value="auto", label="Spoken language",
                                                 elem_id="voice-language", scale=1, min_width=120)
                chips = gr.CheckboxGroup([], label="Active filters (untick to remove)", elem_id="chips")
                facets = gr.Radio([], label="Narrow by", elem_id="facets")
            with gr.Column(scale=3):
                cards = gr.HTML(render_cards(None), elem_id="cards")
                from assistant.shells.web.history_panel import HistoryPanel  # For you, Forget me, kiosk (docs/privacy.md)

                history_panel = HistoryPanel(assistant)
        common = [sid, chat, cards, chips, facets]
        box.submit(on_message, [box, chat, sid], [box, *common])
        send.click(on_message, [box, chat, sid], [box, *common])
        chips.input(on_chips, [chips, chat, sid], common)
        facets.input(on_facet, [facets, chat, sid], common)
        photo.input(on_photo, [photo, box, chat, sid], [photo, box, *common],
                    concurrency_limit=assistant.settings.photo_concurrency, concurrency_id="photo")
        picker.input(on_catalog, [picker, sid], common)
        voice.change(on_voice, [voice, voice_language, chat, sid], [box, voice, *common],
                     concurrency_limit=assistant.settings.voice_concurrency, concurrency_id="voice")
        history_panel.wire(sessions, common, render_cards, on_reset=lambda s: photo_turns.pop(s, None))
    return app


def warm_photos(assistant: Assistant, catalog: str) -> None:
    """Load (or build, with a progress bar) the photo index in the background: text search is
    served meanwhile, and a photo sent before it is ready gets a "try again shortly" message."""
    try:
        assistant.photo_search(catalog)
    except ShopperError:
        pass  # a catalog without photos
    except Exception:
        log.exception("photo index could not be prepared")


def serve(settings: Settings | None = None, host: str | None = None, port: int | None = None,
          catalog: str | None = None) -> None:
    settings = settings or get_settings()
    assistant = Assistant(settings)
    catalog = settings.resolve_catalog(catalog)
    assistant.engine(catalog)  # build or load before the first shopper arrives
    threading.Thread(target=warm_photos, args=(assistant, catalog), daemon=True).start()
    server = server_app(assistant, catalog)
    host, port = host or settings.host, port or settings.port
    print(f"Shopping assistant: http://{host}:{port}/  (Ctrl+C stops it)", flush=True)
    uvicorn.run(server, host=host, port=port, log_level="warning")


def server_app(assistant: Assistant, catalog: str) -> FastAPI:
    """One FastAPI app: the product-photo route, then the Gradio UI mounted at "/". No folder is
    handed to Gradio's allowed paths: a catalog's photos go out only through `served_images`."""
    settings = assistant.settings
    server = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    server.include_router(PRODUCT_IMAGES.router())
    server.mount("/api", api_app(assistant, catalog))  # the store's HTTP API (assistant/shells/api)
    blocks = build_app(assistant, catalog)
    blocks.queue(default_concurrency_limit=settings.queue_concurrency, max_size=settings.queue_max_size or None)
    return gr.mount_gradio_app(server, blocks, path="/", css=CSS, show_error=False, footer_links=[],
                               max_file_size=settings.max_upload_bytes)
