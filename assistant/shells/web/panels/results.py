"""Results: active-filter chips, "Narrow by" facets, the product cards, the product detail and the
compare table. Cards are focusable; a click or Enter opens the detail (its script triggers "open"
with the product id); the detail's and compare table's buttons trigger "action"."""

from __future__ import annotations

import gradio as gr

from assistant.shells.web.cards import render_cards
from assistant.shells.web.panels import RESULTS, Page

# the cards: announced when they change; a click or Enter on a card opens it; on a phone the page
# scrolls to the first card when new results arrive below the fold
OPEN_JS = """
const open = (card) => trigger('open', {id: card.dataset.productId});
element.addEventListener('click', (ev) => {
  const card = ev.target.closest('.card');
  if (card && element.contains(card)) open(card);
});
element.addEventListener('keydown', (ev) => {
  const card = ev.target.closest('.card');
  if (card && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); open(card); }
});
"""
CARDS_JS = OPEN_JS + """
element.setAttribute('aria-live', 'polite');
element.setAttribute('role', 'region');
element.setAttribute('aria-label', 'Results');
// new results on a phone: bring the reply and the first card into view, and keep them there while
// the page around them settles (photos loading, the chat and "For you" drawing, a slow phone laying
// out late) until the shopper touches or scrolls the page themselves
let settling = null;
const stopSettling = () => { clearInterval(settling); settling = null; };
const showResults = () => {
  const first = element.querySelector('.card');
  if (!first || window.innerWidth > 768) return;
  const box = first.getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) {
    const top = element.querySelector('.said, .your-photo, .results-summary') || first;
    top.scrollIntoView({block: 'start', behavior: 'instant'});
  }
};
for (const ev of ['pointerdown', 'touchstart', 'wheel', 'keydown']) window.addEventListener(ev, stopSettling, {passive: true});
watch('value', () => {
  stopSettling();
  const until = Date.now() + 3000;
  requestAnimationFrame(showResults);
  settling = setInterval(() => (Date.now() > until ? stopSettling() : showResults()), 150);
});
"""

# the detail and compare panels: their buttons say what to do; a newly opened detail is brought into view
ACTIONS_JS = """
element.addEventListener('click', (ev) => {
  const button = ev.target.closest('button[data-action]');
  if (button && element.contains(button)) trigger('action', {action: button.dataset.action, id: button.dataset.id});
});
watch('value', () => {
  const panel = element.querySelector('.detail');
  if (!panel) return;
  const box = panel.getBoundingClientRect();
  if (box.top < 0 || box.top > window.innerHeight * 0.6) panel.scrollIntoView({block: 'start', behavior: 'instant'});
  const heading = panel.querySelector('h3');
  if (heading) heading.focus({preventScroll: true});
});
"""


def build_filters(page: Page) -> None:
    chips = gr.CheckboxGroup([], label="Active filters (untick to remove)", elem_id="chips")
    facets = gr.Radio([], label="Narrow by", elem_id="facets")
    page.add(chips=chips, facets=facets)


def build(page: Page) -> None:
    detail = gr.HTML("", elem_id="detail", js_on_load=ACTIONS_JS)
    compare = gr.HTML("", elem_id="compare", js_on_load=ACTIONS_JS)
    cards = gr.HTML(render_cards(None), elem_id="cards", js_on_load=CARDS_JS)
    page.add(cards=cards, detail=detail, compare=compare)


def wire(page: Page) -> None:
    shell, settings = page.shell, page.settings
    page.on(page["chips"].input, shell.on_chips, [page["chips"]], RESULTS)
    page.on(page["facets"].input, shell.on_facet, [page["facets"]], RESULTS)
    page.on_data(page["cards"].open, shell.on_open, ["id"], ["chat", "detail"])
    for panel in (page["detail"], page["compare"]):
        page.on_data(panel.action, shell.on_detail_action, ["action", "id"], [*RESULTS, "compare"])
    # follow-up work waits its turn on its own queue: answers to shoppers come first
    page.on(page["cards"].change, shell.after_results, [], ["chat", "cards", "for_you"],
            concurrency_limit=settings.panel_concurrency, concurrency_id="panel")
