"""Results: active-filter chips, "Narrow by" facets and the product cards."""

from __future__ import annotations

import gradio as gr

from assistant.shells.web.cards import render_cards
from assistant.shells.web.panels import RESULTS, Page


def build_filters(page: Page) -> None:
    chips = gr.CheckboxGroup([], label="Active filters (untick to remove)", elem_id="chips")
    facets = gr.Radio([], label="Narrow by", elem_id="facets")
    page.add(chips=chips, facets=facets)


def build(page: Page) -> None:
    cards = gr.HTML(render_cards(None), elem_id="cards")
    page.add(cards=cards)


def wire(page: Page) -> None:
    shell, settings = page.shell, page.settings
    page.on(page["chips"].input, shell.on_chips, [page["chips"]], RESULTS)
    page.on(page["facets"].input, shell.on_facet, [page["facets"]], RESULTS)
    # follow-up work waits its turn on its own queue: answers to shoppers come first
    page.on(page["cards"].change, shell.after_results, [], ["chat", "cards", "for_you"],
            concurrency_limit=settings.panel_concurrency, concurrency_id="panel")
