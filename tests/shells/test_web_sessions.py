"""One state object per browser session (issue 16), without a browser: the store's bounds, and
the shell's handlers dropping a session on End session, kiosk reset and unload. The served app
with 200 real sessions is tests/e2e/test_sessions.py."""

from __future__ import annotations

import gradio as gr
import pytest

from assistant.chat.dialog import Conversation
from assistant.core import Assistant
from assistant.shells.web.handlers import KEEP, View
from assistant.shells.web.sessions import SessionStore, WebSession


def test_the_store_forgets_the_least_recently_active_and_the_idle(assistant):
    now = [0.0]
    store = SessionStore(lambda: WebSession(Conversation(assistant)), max_sessions=3, idle_seconds=100,
                         clock=lambda: now[0])
    for i, sid in enumerate("abc"):
        now[0] = float(i)
        store.get(sid)
    now[0] = 3.0
    store.get("a")  # activity: "b" is now the least recently active
    now[0] = 4.0
    store.get("d")
    assert store.peek("b") is None and {s for s in "acd" if store.peek(s)} == set("acd")
    assert store.peek("zz") is None and len(store) == 3, "peek creates nothing"
    now[0] = 50.0
    store.get("a")
    now[0] = 104.5  # c (last active at 2.0) and d (4.0) have been idle for 100 s: forgotten
    assert len(store) == 1 and store.peek("a") is not None
    store.drop("a")
    store.drop("never-there")
    assert store.peek("a") is None and len(store) == 0


def test_the_transcript_is_capped(assistant):
    session = WebSession(Conversation(assistant))
    for i in range(30):
        session.say("user", f"m{i}", keep=10)
    assert [m["content"] for m in session.chat] == [f"m{i}" for i in range(20, 30)]


@pytest.fixture
def shell(settings, tmp_path, demo):
    from assistant.shells.web.app import build_app

    own = settings.model_copy(update={"history_db": tmp_path / "h.sqlite3", "kiosk_idle_seconds": 30, "kiosk": True,
                                      "max_chat_messages": 6})
    return build_app(Assistant(own, progress=False), "demo").shell


def test_end_session_and_unload_drop_the_session(shell):
    shell.on_message("one", "grey sofa")
    shell.on_message("two", "grey sofa")
    assert len(shell.sessions) == 2
    view = shell.on_end("one")
    assert view.chat == [] and view.chips == [] and "No products" in view.cards
    assert shell.sessions.peek("one") is None and len(shell.sessions) == 1
    assert shell.after_results("one") == View(), "a follow-up event does not bring an ended session back"
    shell.on_unload("two")
    assert len(shell.sessions) == 0


def test_kiosk_reset_drops_an_idle_session_and_ticks_are_not_activity(shell):
    shell.on_message("kiosk", "grey sofa")
    session = shell.sessions.peek("kiosk")
    assert shell.on_tick("kiosk") == View() and shell.sessions.peek("kiosk") is session
    session.last_active -= 31  # half a minute without a shopper
    view = shell.on_tick("kiosk")
    assert view.chat == [] and view.for_you != KEEP and shell.sessions.peek("kiosk") is None
    assert shell.on_tick("kiosk") == View() and len(shell.sessions) == 0, "a tick creates no session"


def test_the_chat_is_kept_on_the_server_and_capped(shell):
    for _ in range(5):
        view = shell.on_message("chatty", "grey sofa")
    assert len(view.chat) == 6, "max_chat_messages"
    view = shell.on_message("chatty", "sofa " * 20_000)  # refused, and not kept whole
    assert "characters long" in view.chat[-1]["content"]
    assert len(view.chat[-2]["content"]) <= shell.assistant.settings.max_message_chars + 1


def test_a_view_becomes_outputs_in_one_place(shell):
    from assistant.shells.web.app import to_outputs

    page = {"chat": gr.Chatbot(), "cards": gr.HTML(), "chips": gr.CheckboxGroup()}
    chat, cards, chips = to_outputs(View(chat=[], chips=["Sofas"]), page, ["chat", "cards", "chips"])
    assert chat == [] and cards == gr.skip() and chips["choices"] == chips["value"] == ["Sofas"]


def test_the_same_catalog_again_changes_nothing_and_end_session_resets_the_picker(shell):
    """Issue 20, items 2 and 3: the dropdown left on its value keeps the chat; End session says
    which catalog the next search uses."""
    chat = shell.on_message("pick", "grey sofa").chat
    assert shell.on_catalog("pick", "demo") == View()
    assert shell.sessions.peek("pick").chat == chat
    assert shell.on_end("pick").picker == "demo"


def test_the_chats_clear_icon_starts_the_conversation_over(shell):
    shell.on_message("clear", "grey sofa under 800")
    view = shell.on_clear("clear")
    assert view.chat == [] and view.chips == [] and "No products" in view.cards
    conv = shell.sessions.peek("clear").conversation
    assert conv.last is None and conv.filters.is_empty() and conv.text == ""
