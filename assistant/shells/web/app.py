"""The Gradio shell: declares components and wires their events to `handlers.WebShell`.
No search logic lives here; it renders the `View` a handler returns, and every event finds its
browser session's state by Gradio's session hash (sessions.py), dropped when the page unloads."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import gradio as gr
import uvicorn
from fastapi import FastAPI

from assistant.config import Settings, get_settings
from assistant.core import Assistant
from assistant.shells.api.routes import api_app
from assistant.shells.web.cards import render_cards
from assistant.shells.web.handlers import KEEP, View, WebShell
from assistant.shells.web.limits import BodyLimit, health_router
from assistant.shells.web.served_images import PRODUCT_IMAGES
from assistant.speech.transcribe import VOICE_LANGUAGES

log = logging.getLogger(__name__)

CSS = """
.cards {display:grid; grid-template-columns:repeat(auto-fill,minmax(180px,1fr)); gap:12px;}
.card {border:1px solid #e3e5e8; border-radius:10px; padding:8px; background:#fff; color:#222;}
.card img {width:100%; height:170px; object-fit:contain; background:#f7f7f8; border-radius:6px;}
.card .title {font-weight:600; font-size:14px; margin:6px 0 2px;}
.card .meta {font-size:12px; color:#555;}
.card .price {font-weight:700; color:#0a6b3d;}
.card .why {font-size:12px; color:#345; margin-top:4px; font-style:italic;}
"""
RESULTS = ["chat", "cards", "chips", "facets"]  # what a search event updates


class PhotoInput(gr.Image):
    """gr.Image that hands over the uploaded file untouched: our own checks (assistant/vision/images.py)
    give the shopper a clear message for a bad file instead of Gradio's generic error."""

    is_template = True  # rendered by the frontend's Image component

    def preprocess(self, payload):
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)


def to_outputs(view: View, page: dict[str, gr.components.Component], fields: list[str]) -> list:
    """A handler's View as an event's outputs, in `fields` order: the one place names become positions."""
    out = []
    for name in fields:
        value = getattr(view, name)
        if value is KEEP:
            value = gr.skip()
        elif name == "chips":
            value = gr.update(choices=value, value=value)
        elif name == "facets":
            value = gr.update(choices=value, value=None)
        out.append(value)
    return out if len(out) != 1 else out[0]


def gradio_event(handler: Callable[..., View], page: dict, fields: list[str]) -> Callable:
    """Wrap `handler(sid, *inputs) -> View` for Gradio: the session id is the page's session hash
    (never a value the client sends in the data), and the View becomes the outputs."""
    def event(request: gr.Request, *inputs):
        sid = request.session_hash or uuid.uuid4().hex  # no hash: a one-off session, expired when idle
        return to_outputs(handler(sid, *inputs), page, fields)

    event.__name__ = event.__qualname__ = handler.__name__  # the API name, e.g. /call/on_message
    return event


def build_app(assistant: Assistant, catalog: str | None = None) -> gr.Blocks:
    """The page. Its handlers are `app.shell` (a `WebShell`), for tests and the server's /healthz."""
    from assistant.shells.web.history_panel import HistoryPanel  # For you, Forget me, kiosk (docs/privacy.md)

    settings = assistant.settings
    catalogs = assistant.catalogs()
    first = catalog or assistant.default_catalog()
    with gr.Blocks(title="Shopping assistant", delete_cache=upload_sweep(settings)) as app:
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
                panel = HistoryPanel(settings)
        shell = WebShell(assistant, first, upload_dir=photo.GRADIO_CACHE)
        page = {"chat": chat, "cards": cards, "chips": chips, "facets": facets, "box": box, "photo": photo,
                "voice": voice, "for_you": panel.for_you, "personal": panel.personal}

        def on(trigger, handler, inputs: list, fields: list[str], **options) -> None:
            trigger(gradio_event(handler, page, fields), inputs, [page[f] for f in fields], **options)

        # no event takes the chat as an input: the transcript is the session's, kept on the server
        on(box.submit, shell.on_message, [box], ["box", *RESULTS])
        on(send.click, shell.on_message, [box], ["box", *RESULTS])
        on(chips.input, shell.on_chips, [chips], RESULTS)
        on(facets.input, shell.on_facet, [facets], RESULTS)
        on(photo.input, shell.on_photo, [photo, box], ["photo", "box", *RESULTS],
           concurrency_limit=settings.photo_concurrency, concurrency_id="photo")
        on(picker.input, shell.on_catalog, [picker], RESULTS)
        on(voice.change, shell.on_voice, [voice, voice_language], ["box", "voice", *RESULTS],
           concurrency_limit=settings.voice_concurrency, concurrency_id="voice")
        # follow-up work waits its turn on its own queue: answers to shoppers come first
        on(cards.change, shell.after_results, [], ["chat", "cards", "for_you"],
           concurrency_limit=settings.panel_concurrency, concurrency_id="panel")
        on(panel.forget.click, shell.on_forget, [], ["chat", "for_you", "personal"])
        on(panel.end.click, shell.on_end, [], [*RESULTS, "for_you", "personal"])
        on(panel.timer.tick, shell.on_tick, [], [*RESULTS, "for_you", "personal"])
        on(panel.personal.input, shell.on_personal, [panel.personal], ["chat", "cards"])

        def on_unload(request: gr.Request) -> None:  # the tab was closed or reloaded
            shell.on_unload(request.session_hash)

        app.unload(on_unload)
    app.shell = shell
    return app


def upload_sweep(settings: Settings) -> tuple[int, int]:
    """Gradio's `delete_cache` (every N s, uploads older than `upload_max_age_seconds`): a file
    posted to /gradio_api/upload that no event used (and so nothing deleted) does not stay
    downloadable; uploads that are used are deleted by their handler at once."""
    age = settings.upload_max_age_seconds
    return max(1, min(60, age // 2)), age


def serve(settings: Settings | None = None, host: str | None = None, port: int | None = None,
          catalog: str | None = None) -> None:
    settings = settings or get_settings()
    assistant = Assistant(settings)
    catalog = settings.resolve_catalog(catalog)
    assistant.engine(catalog)  # build or load before the first shopper arrives
    assistant.warm_in_background(catalog)  # every catalog, photos, speech: see Assistant.warm_up
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
    server.include_router(health_router(blocks.shell))
    server.add_middleware(BodyLimit, limit=settings.max_request_bytes, prefix="/gradio_api/",
                          exempt=("/gradio_api/upload",))
    blocks.queue(default_concurrency_limit=settings.queue_concurrency, max_size=settings.queue_max_size or None)
    return gr.mount_gradio_app(server, blocks, path="/", css=CSS, show_error=False, footer_links=[],
                               max_file_size=settings.max_upload_bytes)
