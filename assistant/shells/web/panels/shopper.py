"""The shopper panel (docs/privacy.md): "For you", the opt-in box, Forget me, End session and the
kiosk timer. What they do lives in history_panel.py (no Gradio there) via handlers.WebShell."""

from __future__ import annotations

import gradio as gr

from assistant.shells.web.history_panel import FOR_YOU_EMPTY
from assistant.shells.web.panels import RESULTS, Page
from assistant.shells.web.panels.results import OPEN_JS


def idle_seconds(settings) -> float:
    """The idle reset in force: kiosk mode only (0 = none)."""
    return settings.kiosk_idle_seconds if settings.kiosk else 0.0


def stored_note(settings) -> str:
    """The footer's one sentence: what is stored, for how long, and what opting in changes."""
    if settings.kiosk:
        idle = idle_seconds(settings)
        return ("Privacy: nothing is stored on this kiosk; your search, photo and results are cleared when you "
                "press End session" + (f" or after {idle:g} seconds without activity." if idle else "."))
    days = settings.history_retention_days
    kept = f"for {days:g} days" if days else "until you press Forget me"
    hours = settings.session_idle_seconds / 3600
    session = f"{hours:g} hour{'' if hours == 1 else 's'}" if hours >= 1 else f"{settings.session_idle_seconds:g} seconds"
    return (f"Privacy: your chat and photos stay only in this browser session (cleared when you close the page, "
            f"press End session or after {session} idle); the products you view are recorded under an anonymous id "
            f"{kept}{'' if settings.history_store_queries else ' without your search words'} for \"For you\", "
            "and opting in also lets that history reorder your results; Forget me deletes it all.")


def build(page: Page) -> None:
    settings = page.settings
    idle, kiosk = idle_seconds(settings), settings.kiosk
    personal = gr.Checkbox(False, label="Use my history to order my results (opt-in)", elem_id="personalize",
                           visible=not kiosk)  # a kiosk keeps no history to order by
    for_you = gr.HTML(FOR_YOU_EMPTY, label="For you", elem_id="for-you", visible=not kiosk,
                      js_on_load=OPEN_JS)  # its cards open a detail like the results' cards
    with gr.Row(elem_id="session-buttons"):
        forget = gr.Button("Forget me", elem_id="forget", size="sm", visible=not kiosk)
        end = gr.Button("End session", elem_id="end-session", size="sm")
    with gr.Row(visible=False, elem_id="end-confirm") as confirm:  # kiosk: End session asks first
        gr.Markdown("End this session? Your search and results will be cleared.")
        yes = gr.Button("Yes, end session", elem_id="end-yes", variant="stop")
        no = gr.Button("Keep shopping", elem_id="end-no")
    timer = gr.Timer(max(1.0, min(5.0, idle / 4)) if idle > 0 else 5.0, active=idle > 0)
    page.add(personal=personal, for_you=for_you, forget=forget, end=end, timer=timer, confirm=confirm,
             end_yes=yes, end_no=no)


def wire(page: Page) -> None:
    shell = page.shell
    page.on(page["forget"].click, shell.on_forget, [], ["chat", "for_you", "personal"])
    ended = [*RESULTS, "for_you", "personal", "compare", "picker"]
    if page.settings.kiosk:
        show = lambda visible: lambda: gr.update(visible=visible)  # noqa: E731
        page["end"].click(show(True), None, page["confirm"], queue=False)
        page["end_no"].click(show(False), None, page["confirm"], queue=False)
        page.on(page["end_yes"].click, shell.on_end, [], ended).then(show(False), None, page["confirm"], queue=False)
    else:
        page.on(page["end"].click, shell.on_end, [], ended)
    page.on(page["timer"].tick, shell.on_tick, [], ended)
    page.on_data(page["for_you"].open, shell.on_open, ["id"], ["chat", "detail"])
    page.on(page["personal"].input, shell.on_personal, [page["personal"]], ["chat", "cards"])
