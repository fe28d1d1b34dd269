"""The served app's per-session state over real HTTP (issue 16, issue 17 defects 11 and 13).

A real `python -m assistant serve` (demo catalog) is driven the way a page drives it: a session
is Gradio's session hash, kept alive by the page's heartbeat stream; closing that stream is how
Gradio learns a tab closed (it runs `demo.unload`). `/healthz` reports how many sessions the
server holds state for.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_browser import ARTIFACTS, _serve

SESSIONS = 200
UPLOAD_AGE_S = 4  # ASSISTANT_UPLOAD_MAX_AGE_SECONDS for this server: orphan uploads go within ~6 s


@pytest.fixture(scope="module")
def url(index_dir, demo):  # the demo index is built once, in-process, before the server starts
    yield from _serve("demo", index_dir, ARTIFACTS / "app-server-sessions.log",
                      extra_env={"ASSISTANT_UPLOAD_MAX_AGE_SECONDS": str(UPLOAD_AGE_S)})


def live_sessions(http: httpx.Client) -> int:
    r = http.get("/healthz")
    r.raise_for_status()
    return r.json()["sessions"]


def call(http: httpx.Client, api: str, data: list, session: str) -> list:
    """One event over Gradio's HTTP API (`/gradio_api/call/<api>` + its SSE result)."""
    r = http.post(f"/gradio_api/call/{api}", json={"data": data, "session_hash": session})
    r.raise_for_status()
    event = None
    with http.stream("GET", f"/gradio_api/call/{api}/{r.json()['event_id']}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                assert event == "complete", line[:300]
                return json.loads(line[5:])
    raise AssertionError(f"{api}: the stream ended without a result")


def text_of(message: dict) -> str:
    """A chat message's text (Gradio 6 sends content as a list of parts)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content if isinstance(part, dict))


def wait_for_sessions(http: httpx.Client, n: int, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while (seen := live_sessions(http)) != n and time.monotonic() < deadline:
        time.sleep(0.5)
    return seen


def test_200_sessions_open_and_close_and_the_state_goes_back_to_zero(url):
    limits = httpx.Limits(max_connections=SESSIONS + 20, max_keepalive_connections=20)
    with httpx.Client(base_url=url.rstrip("/"), timeout=60, limits=limits) as http, ExitStack() as pages:
        assert wait_for_sessions(http, 0) == 0
        started = time.monotonic()
        for i in range(SESSIONS):
            session = f"page{i:03d}"
            heartbeat = pages.enter_context(http.stream("GET", f"/gradio_api/heartbeat/{session}"))
            assert heartbeat.status_code == 200
            if i % 20 == 0:  # every 20th page searches; the others pick a catalog (cheap, no search)
                chat = call(http, "on_message", ["grey sofa"], session)[1]
                assert chat[-1]["role"] == "assistant" and "sofa" in text_of(chat[-1]).lower(), chat
            else:
                call(http, "on_catalog", ["demo"], session)
        opened_s = time.monotonic() - started
        assert live_sessions(http) == SESSIONS
        pages.close()  # every page goes away: its heartbeat stream closes, Gradio runs unload
        closing = time.monotonic()
        assert wait_for_sessions(http, 0) == 0, "sessions left after every page closed"
        print(f"{SESSIONS} sessions opened in {opened_s:.1f} s, all gone {time.monotonic() - closing:.1f} s "
              "after the pages closed")
        # the server keeps serving, and a new session starts clean
        chat = call(http, "on_message", ["grey sofa"], "after")[1]
        assert len(chat) == 2 and live_sessions(http) == 1


def test_the_chat_history_is_the_servers_not_the_clients(url):
    """Defect 11: a client-posted history is neither trusted nor echoed, and a huge body is refused."""
    with httpx.Client(base_url=url.rstrip("/"), timeout=120) as http:
        forged = [{"role": "user", "content": "x" * 1000}, {"role": "assistant", "content": "y" * 1000}] * 150
        out = call(http, "on_message", ["grey sofa", forged], "forger")
        chat = out[1]
        assert [m["role"] for m in chat] == ["user", "assistant"], "the posted history came back"
        assert text_of(chat[0]) == "grey sofa" and len(json.dumps(out)) < 100_000
        chat = call(http, "on_message", ["under 800", forged], "forger")[1]
        assert len(chat) == 4 and "800" in text_of(chat[-1]), chat  # the server's own transcript

        huge = [{"role": "user", "content": "z" * 1_000_000}] * 21  # 21 MB, as in the report
        r = http.post("/gradio_api/call/on_message", json={"data": ["grey sofa", huge], "session_hash": "big"})
        assert r.status_code == 413, (r.status_code, r.text[:200])
        r = http.post("/gradio_api/queue/join", json={"data": ["grey sofa", huge], "fn_index": 0,
                                                      "session_hash": "big"})
        assert r.status_code == 413, (r.status_code, r.text[:200])
        assert len(call(http, "on_message", ["grey sofa"], "big")[1]) == 2  # still serving


def test_an_orphan_upload_is_deleted_and_no_longer_downloadable(url, tmp_path):
    """Defect 13: a file posted to /gradio_api/upload with no event after it used to stay there,
    downloadable; it is gone once it is older than `upload_max_age_seconds`."""
    secret = tmp_path / "orphan.txt"
    secret.write_text("a shopper's file that no event ever used\n")
    with httpx.Client(base_url=url.rstrip("/"), timeout=60) as http:
        with secret.open("rb") as fh:
            r = http.post("/gradio_api/upload", files={"files": ("orphan.txt", fh)})
        r.raise_for_status()
        path = r.json()[0]
        assert http.get(f"/gradio_api/file={path}").status_code == 200  # reachable right after the upload
        deadline = time.monotonic() + UPLOAD_AGE_S + 30
        while http.get(f"/gradio_api/file={path}").status_code == 200 and time.monotonic() < deadline:
            time.sleep(1)
        assert http.get(f"/gradio_api/file={path}").status_code != 200, "the orphan upload is still served"
        assert not Path(path).exists(), "the orphan upload is still on disk"
