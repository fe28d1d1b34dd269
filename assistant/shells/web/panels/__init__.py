"""The page's panels, one module each: chat (conversation, message box, catalog picker), results
(filters, facets, cards, product detail, compare), photo, voice and shopper (For you, opt-in,
Forget me, End session, kiosk timer). Each module has `build(page, ...)`, which declares its
components inside the layout context app.py opens, and `wire(page)`, which connects their events
to the handlers of `handlers.WebShell`. They share one `Page`: the components by name, the one
`WebShell` (whose sessions hold each browser session's state) and the settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import gradio as gr

from assistant.shells.web.handlers import KEEP, View, WebShell

RESULTS = ["chat", "cards", "chips", "facets", "detail"]  # what a search event updates


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


def gradio_data_event(handler: Callable[..., View], page: dict, fields: list[str], keys: list[str]) -> Callable:
    """Like `gradio_event`, for events a panel's own script triggers with data (e.g. a card's
    product id): `handler(sid, *[data[key] for key in keys])`."""
    def event(request: gr.Request, evt: gr.EventData):
        sid = request.session_hash or uuid.uuid4().hex
        data = getattr(evt, "_data", None) or {}
        values = [str(data.get(k) or "")[:200] if isinstance(data, dict) else "" for k in keys]
        return to_outputs(handler(sid, *values), page, fields)

    event.__name__ = event.__qualname__ = handler.__name__
    return event


class Page:
    """What the panels share: components by name, the handlers (`shell`) and the settings."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.components: dict[str, gr.components.Component] = {}
        self.shell: WebShell | None = None

    def __getitem__(self, name: str):
        return self.components[name]

    def add(self, **components) -> None:
        self.components.update(components)

    def on(self, trigger, handler: Callable[..., View], inputs: list, fields: list[str], **options):
        """Wire `trigger` to `handler(sid, *inputs) -> View`, whose `fields` are the outputs."""
        return trigger(gradio_event(handler, self.components, fields), inputs,
                       [self.components[f] for f in fields], **options)

    def on_data(self, trigger, handler: Callable[..., View], keys: list[str], fields: list[str], **options):
        """Wire an event a panel's script triggers with data to `handler(sid, *data[keys]) -> View`."""
        return trigger(gradio_data_event(handler, self.components, fields, keys), None,
                       [self.components[f] for f in fields], **options)
