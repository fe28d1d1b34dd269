"""Serving under load (issue 6): speech cannot starve text search, and the load bench runs end to
end against the real app (the full 20-shopper run is a benchmark, not a test: docs/reliability.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from assistant.core import background_worker
from assistant.shells.web.app import build_app
from tests.conftest import ROOT


def test_speech_worker_runs_at_lower_priority(settings):
    """Whisper runs on a worker thread with a raised nice value; threads it creates inherit it."""
    def nice_here_and_in_child() -> tuple[int, int]:
        seen = []
        child = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        child.start()
        child.join()
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), seen[0]

    worker, child = background_worker(settings.speech_nice).submit(nice_here_and_in_child).result()
    assert settings.speech_nice > 0
    assert worker >= settings.speech_nice and child >= settings.speech_nice
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < settings.speech_nice  # caller untouched


def test_voice_has_its_own_queue(assistant):
    """Transcriptions queue on their own (at most `voice_concurrency` at once) instead of taking
    the workers that text searches use."""
    app = build_app(assistant, "demo")
    by_name = {fn.fn.__name__: fn for fn in app.fns.values() if fn.fn is not None}
    assert by_name["on_voice"].concurrency_limit == assistant.settings.voice_concurrency
    assert by_name["on_voice"].concurrency_id == "voice"
    assert by_name["on_message"].concurrency_id != "voice"


def test_load_bench_runs_against_the_real_app(index_dir, tmp_path):
    """A short run of bench/load.py (3 shoppers, demo catalog, HTTP like the page): it starts the
    app, measures the idle baseline and the load, and reports 0 errors and the p95 ratio."""
    out = tmp_path / "load.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "--catalog", "demo",
                           "--index-dir", str(index_dir), "--shoppers", "3", "--duration", "8",
                           "--baseline", "4", "--think", "0.2", "0.5", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["load"]["errors"] == 0 and report["idle"]["errors"] == 0
    assert report["load"]["latency_s"]["text"]["n"] >= 3
    assert report["load"]["latency_s"]["for_you"]["n"] >= 3  # the page's follow-up call ran too
    assert report["text_p95_ratio"] > 0 and report["rss_mb"]["end"] > 100
