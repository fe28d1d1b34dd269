"""The Gradio shell, thin over `Assistant`: lays out the panels (panels/: chat, results, photo,
voice, shopper), each of which declares its components and wires its events to `handlers.WebShell`.
No search logic lives here; every event finds its browser session's state by Gradio's session
hash (sessions.py), dropped when the page unloads."""

from __future__ import annotations

import logging

import gradio as gr
import uvicorn
from fastapi import FastAPI

from assistant.config import Settings, get_settings
from assistant.core import Assistant
from assistant.shells.api.routes import api_app
from assistant.shells.web.cards import render_cards  # noqa: F401 (tests import it here)
from assistant.shells.web.handlers import WebShell
from assistant.shells.web.limits import BodyLimit, health_router
from assistant.shells.web.panels import RESULTS, Page, gradio_event, to_outputs  # noqa: F401 (tests import them here)
from assistant.shells.web.panels import chat, photo, results, shopper, voice
from assistant.shells.web.panels.photo import PhotoInput  # noqa: F401
from assistant.shells.web.served_images import PRODUCT_IMAGES

log = logging.getLogger(__name__)

CSS = """
.cards {display:grid; grid-template-columns:repeat(auto-fill,minmax(180px,1fr)); gap:12px;}
.card {border:1px solid #e3e5e8; border-radius:10px; padding:8px; background:#fff; color:#222; cursor:pointer;}
.card:hover {border-color:#9a3412;}
.card:focus-visible, .detail button:focus-visible, .compare-panel button:focus-visible {outline:3px solid #1d4ed8; outline-offset:2px;}
.card img {width:100%; height:170px; object-fit:contain; background:#f7f7f8; border-radius:6px;}
.card .title {font-weight:600; font-size:14px; margin:6px 0 2px;}
.card .meta {font-size:12px; color:#4b5563;}
.card .price, .detail-price {font-weight:700; color:#0a6b3d;}
.card .why {font-size:12px; color:#334155; margin-top:4px; font-style:italic;}
.tell-apart {font-weight:400; color:#4b5563;}
.results-summary {font-size:13px; color:#374151; margin:0 0 8px;}
.your-photo {display:flex; align-items:center; gap:10px; margin-bottom:8px; font-size:13px; color:#374151;}
.your-photo img {width:96px; height:96px; object-fit:cover; border-radius:8px; border:1px solid #d1d5db;}
.detail {display:flex; flex-wrap:wrap; gap:16px; border:2px solid #9a3412; border-radius:12px; padding:12px;
  background:#fff; color:#222; margin-bottom:12px;}
.detail-photo {width:min(360px,100%); max-height:380px; object-fit:contain; background:#f7f7f8; border-radius:8px;}
.detail-body {flex:1 1 260px; min-width:0;}
.detail-body h3 {margin:0 0 4px; font-size:18px;}
.detail-price.none {font-weight:400; color:#4b5563;}
.attrs {border-collapse:collapse; font-size:13px; width:100%;}
.attrs th, .compare th[scope=row] {text-align:left; padding:3px 10px 3px 0; color:#374151; white-space:nowrap;
  word-break:keep-all; hyphens:none; vertical-align:top;}
.attrs td {padding:3px 0; overflow-wrap:anywhere;}
.detail .attrs th, .detail .attrs td {border:none !important; border-bottom:1px solid #e5e7eb !important; padding:4px 8px !important;}
.detail-actions, .compare-panel > button {display:flex; flex-wrap:wrap; gap:8px; margin-top:10px;}
.detail button, .compare-panel button {min-height:44px; min-width:44px; padding:8px 14px; border-radius:8px;
  border:1px solid #9a3412; background:#fff; color:#7c2d12; font-weight:600; cursor:pointer;}
.detail button[data-action=more] {background:#c2410c; color:#fff;}
.compare-panel {border:1px solid #d1d5db; border-radius:12px; padding:12px; margin-bottom:12px; background:#fff; color:#222;}
.compare-panel h3 {margin:0 0 8px; font-size:16px;}
.compare-scroll {overflow-x:auto;}
.compare {border-collapse:collapse; font-size:13px;}
.compare th, .compare td {border-bottom:1px solid #e5e7eb; padding:6px 8px; vertical-align:top; min-width:120px;}
.compare th[scope=row] {min-width:0;}
.compare thead th {text-align:left;}
.compare thead img {display:block; width:72px; height:72px; object-fit:contain; background:#f7f7f8; border-radius:6px;}
.compare .num {display:inline-block; min-width:24px; height:24px; line-height:24px; text-align:center; border-radius:12px;
  background:#c2410c; color:#fff; font-weight:700; margin-bottom:4px;}
.compare .ctitle {display:block; font-weight:600;}
.compare thead button {min-height:44px; margin-top:4px;}
/* contrast (WCAG AA, 4.5:1): the Search button and the placeholder */
#send, #send:hover, #end-yes {background:#c2410c !important; border-color:#c2410c !important; color:#fff !important;}
#send:hover {background:#9a3412 !important;}
#message textarea::placeholder {color:#6b7280 !important; opacity:1 !important;}
/* touch targets of at least 44 px */
#send, #forget, #end-session, #end-yes, #end-no {min-height:44px !important;}
#privacy-note {font-size:13px; color:#374151;}
#chat table td:first-child, #chat table th:first-child {white-space:nowrap; word-break:keep-all; hyphens:none;}
#detail:not(:has(.detail)), #compare:not(:has(.compare-panel)) {display:none !important;}  /* nothing open */
.said {display:none;}
@media (max-width: 768px) {
  #chat {height:300px !important; max-height:300px !important;}
  .said {display:block; margin:0 0 8px; padding:8px 10px; border-radius:8px; background:#f3f4f6; color:#111827; font-size:14px;}
}
"""
KIOSK_CSS = """
/* kiosk: large touch targets */
#send, #end-session, #end-yes, #end-no, .detail button, .compare-panel button {min-height:64px !important;
  font-size:20px !important; padding:12px 24px !important;}
#message textarea {font-size:20px !important;}
.card {padding:12px;}
"""


def page_css(settings: Settings) -> str:
    return CSS + (KIOSK_CSS if settings.kiosk else "")


def build_app(assistant: Assistant, catalog: str | None = None) -> gr.Blocks:
    """The page: each panel declares its components in this layout, then wires its events to the
    one `WebShell`. Its handlers are `app.shell`, for tests and the server's /healthz."""
    settings = assistant.settings
    catalogs = assistant.catalogs()
    first = catalog or assistant.default_catalog()
    page = Page(settings)
    with gr.Blocks(title="Shopping assistant", delete_cache=upload_sweep(settings)) as app:
        gr.Markdown("## Shopping assistant\nAsk for a product in your own words, then narrow it down.")
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                chat.build(page, catalogs, first)
                photo.build(page)
                voice.build(page)
                results.build_filters(page)
            with gr.Column(scale=3):
                results.build(page)
                shopper.build(page)
        gr.Markdown(shopper.stored_note(settings), elem_id="privacy-note")
        page.shell = shell = WebShell(assistant, first, upload_dir=page["photo"].GRADIO_CACHE)
        for panel in (chat, results, photo, voice, shopper):
            panel.wire(page)

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
          catalog: str | None = None, kiosk: bool = False) -> None:
    settings = settings or get_settings()
    if kiosk:  # `assistant serve --kiosk`: idle reset, no picker, big targets, nothing stored
        settings = settings.model_copy(update={"kiosk": True})
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
    return gr.mount_gradio_app(server, blocks, path="/", css=page_css(settings), show_error=False, footer_links=[],
                               max_file_size=settings.max_upload_bytes)
