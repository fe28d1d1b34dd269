"""The Gradio shell, thin over `Assistant`: lays out the panels (panels/: chat, results, photo,
voice, shopper), each of which declares its components and wires its events to `handlers.WebShell`.
No search logic lives here; every event finds its browser session's state by Gradio's session
hash (sessions.py), dropped when the page unloads."""

from __future__ import annotations

import logging
import threading

import gradio as gr
import uvicorn
from fastapi import FastAPI

from assistant.config import Settings, get_settings
from assistant.core import Assistant
from assistant.errors import ShopperError
from assistant.shells.api.routes import api_app
from assistant.shells.web.handlers import WebShell
from assistant.shells.web.limits import BodyLimit, health_router
from assistant.shells.web.panels import RESULTS, Page, gradio_event, to_outputs  # noqa: F401 (tests import them here)
from assistant.shells.web.panels import chat, photo, results, shopper, voice
from assistant.shells.web.panels.photo import PhotoInput  # noqa: F401
from assistant.shells.web.served_images import PRODUCT_IMAGES

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


def warm_photos(assistant: Assistant, catalog: str) -> None:
    """Load (or build, with a progress bar) the photo index in the background: text search is
    served meanwhile, and a photo sent before it is ready gets a "try again shortly" message.
    Then the foreign-language data, so the first query in another language does not pay for it."""
    try:
        assistant.photo_search(catalog)
    except ShopperError:
        pass  # a catalog without photos
    except Exception:
        log.exception("photo index could not be prepared")
    try:
        assistant.engine(catalog).reader.warm()
    except Exception:
        log.exception("foreign-language data could not be loaded")


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
    server.include_router(health_router(blocks.shell))
    server.add_middleware(BodyLimit, limit=settings.max_request_bytes, prefix="/gradio_api/",
                          exempt=("/gradio_api/upload",))
    blocks.queue(default_concurrency_limit=settings.queue_concurrency, max_size=settings.queue_max_size or None)
    return gr.mount_gradio_app(server, blocks, path="/", css=CSS, show_error=False, footer_links=[],
                               max_file_size=settings.max_upload_bytes)
