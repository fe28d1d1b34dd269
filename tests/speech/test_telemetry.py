"""Voice search writes nothing about the shopper or the machine (issue 17, defect 12).

onnxruntime (Silero VAD's runtime, pulled in by faster-whisper) used to write
`~/.cache/Microsoft/DeveloperTools/.onnxruntime/deviceid` and queue telemetry events in an
`onnxruntime.db` beside it. A real `assistant search --audio` runs with HOME (and no
XDG_CACHE_HOME) pointed at an empty folder, which must still be empty afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.conftest import ROOT


def test_voice_search_leaves_nothing_in_home(tmp_path, index_dir, demo):
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is missing (make system-deps): it synthesises the spoken query"
    clip = tmp_path / "query.wav"
    subprocess.run([espeak, "-w", str(clip), "black watch for men"], check=True, timeout=60)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY")}
    env.update(HOME=str(home), HF_HUB_OFFLINE="1", ASSISTANT_INDEX_DIR=str(index_dir))
    proc = subprocess.run([sys.executable, "-m", "assistant", "search", "--audio", str(clip),
                           "--catalog", "demo", "--k", "3", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "watch" in proc.stdout.lower()  # the clip was heard and searched
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert written == [], f"voice search wrote under HOME: {written}"
