"""The shopper panel (docs/privacy.md): "For you", the opt-in box, Forget me, End session and the
kiosk timer. What they do lives in history_panel.py (no Gradio there) via handlers.WebShell."""

from __future__ import annotations

import gradio as gr

from assistant.shells.web.history_panel import FOR_YOU_EMPTY
from assistant.shells.web.panels import RESULTS, Page


def build(page: Page) -> None:
    idle = page.settings.kiosk_idle_seconds
    personal = gr.Checkbox(False, label="Use my history to order my results (opt-in)", elem_id="personalize")
    for_you = gr.HTML(FOR_YOU_EMPTY, label="For you", elem_id="for-you")
    with gr.Row():
        forget = gr.Button("Forget me", elem_id="forget", size="sm")
        end = gr.Button("End session", elem_id="end-session", size="sm")
    timer = gr.Timer(max(1.0, min(5.0, idle / 4)) if idle > 0 else 5.0, active=idle > 0)
    page.add(personal=personal, for_you=for_you, forget=forget, end=end, timer=timer)


def wire(page: Page) -> None:
    shell = page.shell
    page.on(page["forget"].click, shell.on_forget, [], ["chat", "for_you", "personal"])
    page.on(page["end"].click, shell.on_end, [], [*RESULTS, "for_you", "personal"])
    page.on(page["timer"].tick, shell.on_tick, [], [*RESULTS, "for_you", "personal"])
    page.on(page["personal"].input, shell.on_personal, [page["personal"]], ["chat", "cards"])
