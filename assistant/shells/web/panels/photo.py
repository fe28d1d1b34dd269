"""Search with a photo (docs/photos.md): upload or camera."""

from __future__ import annotations

import gradio as gr

from assistant.shells.web.panels import RESULTS, Page


class PhotoInput(gr.Image):
    """gr.Image that hands over the uploaded file untouched: our own checks (assistant/vision/images.py)
    give the shopper a clear message for a bad file instead of Gradio's generic error."""

    is_template = True  # rendered by the frontend's Image component

    def preprocess(self, payload):
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)


def build(page: Page) -> None:
    photo = PhotoInput(sources=["upload", "webcam"], type="filepath", image_mode=None,
                       label="…or search with a photo (upload or camera)", elem_id="photo", height=200)
    page.add(photo=photo)


def wire(page: Page) -> None:
    page.on(page["photo"].input, page.shell.on_photo, [page["photo"], page["box"]], ["photo", "box", *RESULTS],
            concurrency_limit=page.settings.photo_concurrency, concurrency_id="photo")
