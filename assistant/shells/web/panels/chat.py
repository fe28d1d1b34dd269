"""The conversation: catalog picker, chat transcript, message box and Search button."""

from __future__ import annotations

import gradio as gr

from assistant.shells.web.panels import RESULTS, Page

PLACEHOLDER = "e.g. women's black heels, grey sofa under $800"


def build(page: Page, catalogs: list[str], first: str) -> None:
    picker = gr.Dropdown(catalogs, value=first, label="Catalog", elem_id="catalog-picker",
                         visible=len(catalogs) > 1 and not page.settings.kiosk)  # a kiosk serves one store
    chat = gr.Chatbot(label="Chat", height=420, elem_id="chat")
    box = gr.Textbox(placeholder=PLACEHOLDER, label="Your message", elem_id="message", max_lines=3)
    send = gr.Button("Search", variant="primary", elem_id="send")
    page.add(picker=picker, chat=chat, box=box, send=send)


def wire(page: Page) -> None:
    shell = page.shell
    # no event takes the chat as an input: the transcript is the session's, kept on the server
    page.on(page["box"].submit, shell.on_message, [page["box"]], ["box", *RESULTS, "compare"])
    page.on(page["send"].click, shell.on_message, [page["box"]], ["box", *RESULTS, "compare"])
    page.on(page["picker"].input, shell.on_catalog, [page["picker"]], [*RESULTS, "compare"])
    # the chat's clear (trash) icon starts the conversation over, results and filters included
    page.on(page["chat"].clear, shell.on_clear, [], [*RESULTS, "compare"])
