"""Everything the server remembers about one browser session, in one object, in one store.

The web shell used to keep four per-session dicts (conversations, photo turns, recorded
responses, kiosk clocks), trimmed separately and never emptied when a browser left, so a kiosk
running for weeks kept growing; and it trusted the chat history each request carried (a 21 MB
history was accepted and echoed). Now a `WebSession` holds the conversation, the chat transcript
(kept here, never taken from the client), the last photo turn and the history panel's state,
keyed by Gradio's session hash. A session leaves the store when its page unloads, on "End
session" or a kiosk reset, after `session_idle_seconds` without activity (clients that never
say goodbye, e.g. the HTTP API), and the oldest goes first past `max_sessions`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.chat.dialog import Conversation


@dataclass
class WebSession:
    """One browser session: its conversation and what the page shows of it."""

    conversation: Conversation
    chat: list[dict] = field(default_factory=list)  # the transcript, as Gradio's messages
    photo_turn: Any = None  # the current photo search (vision.photo_index.PhotoTurn: its vector, never the file)
    recorded: Any = None  # the response last recorded as views (history panel), so it is recorded once
    photo_thumb: str | None = None  # a small data URL of the last searched photo, shown beside its results
    compare: list = field(default_factory=list)  # products added to compare (catalog.schema.Product)
    detail: Any = None  # the product whose detail is open
    last_active: float = field(default_factory=time.monotonic)

    def say(self, role: str, content: str, keep: int) -> None:
        """Add a chat message, keeping the last `keep` messages."""
        self.chat.append({"role": role, "content": content})
        del self.chat[:-keep]


class SessionStore:
    """Live sessions by id (Gradio's session hash), oldest activity first."""

    def __init__(self, new: Callable[[], WebSession], max_sessions: int = 5000,
                 idle_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._new, self.max_sessions, self.idle_seconds, self.clock = new, max_sessions, idle_seconds, clock
        self._items: OrderedDict[str, WebSession] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sid: str) -> WebSession:
        """The session for `sid`, created on first use; counts as activity."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            session = self._items.get(sid)
            if session is None:
                session = self._items[sid] = self._new()
                while len(self._items) > self.max_sessions:
                    self._items.popitem(last=False)
            self._items.move_to_end(sid)
            session.last_active = now
            return session

    def peek(self, sid: str) -> WebSession | None:
        """The session if it exists, without creating it or counting as activity (timers)."""
        with self._lock:
            return self._items.get(sid)

    def drop(self, sid: str) -> None:
        with self._lock:
            self._items.pop(sid, None)

    def _expire(self, now: float) -> None:
        """Forget sessions idle for `idle_seconds` (they are in activity order: stop at the first live one)."""
        if self.idle_seconds <= 0:
            return
        while self._items:
            sid, session = next(iter(self._items.items()))
            if now - session.last_active < self.idle_seconds:
                break
            del self._items[sid]

    def __len__(self) -> int:
        with self._lock:
            self._expire(self.clock())
            return len(self._items)
