"""Spoken queries read against the catalog (issue 19): a clip of a query finds the product; a
clip Whisper turns into an everyday sentence is never searched; a misheard word that sounds like a
catalog word is read as it. Real Whisper base, real espeak-ng clips, the demo catalog."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from assistant.language.sounds import mend
from assistant.speech.reading import read
from assistant.speech.transcribe import Transcript

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(not ESPEAK, reason="espeak-ng is missing: run `make system-deps`")


def speak(text: str, path: Path, voice: str = "en-us") -> Path:
    subprocess.run([ESPEAK, "-v", voice, "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    return path


def heard(text: str, logprob: float = -0.2, no_speech: float = 0.05, *others: str) -> Transcript:
    return Transcript(text=text, language="en", language_probability=1.0, task="transcribe", duration_s=2.0,
                      seconds=0.5, backend="test", model="test", avg_logprob=logprob, no_speech_prob=no_speech,
                      hypotheses=[[text, logprob]] + [[o, logprob - 0.1] for o in others])


def test_a_misheard_word_that_sounds_like_a_catalog_word_is_read_as_it(demo):
    assert mend("grey rag", demo.vocab, frozenset({"grey"})) == ("grey rug", {"rag": "rug"})
    assert mend("sofa", demo.vocab, frozenset({"sofa"})) == ("sofa", {})  # a catalog word stays
    # everyday English with no catalog word in it is not turned into one
    assert mend("I don't even know what to do", demo.vocab)[1] == {}


def test_the_decision_follows_confidence_and_what_the_reading_names(demo):
    sure = read(heard("grey sofa"), demo)
    assert sure.decision == "search" and sure.confidence >= 0.3 and sure.alternatives == []
    garbage = read(heard("Don't forget to like and subscribe", -1.1, 0.04), demo)
    assert garbage.decision == "repeat"
    unsure = read(heard("grey sofa", -1.0, 0.3, "grey rug"), demo)
    assert unsure.decision == "confirm" and unsure.alternatives == ["grey sofa", "grey rug"]


@needs_espeak
def test_a_spoken_query_finds_the_product_and_garbage_is_never_searched(assistant, demo, tmp_path):
    spoken = assistant.transcribe(speak("coffee table", tmp_path / "table.wav"), catalog="demo")
    assert spoken.decision == "search" and spoken.avg_logprob is not None and spoken.hypotheses
    top = assistant.search(spoken.text, catalog="demo", k=3).results
    assert top and all("coffee table" in r.product.title.lower() for r in top)
    # espeak's "grey sofa" comes back as "Race off": nothing in the catalog, so it is not searched
    assert assistant.transcribe(speak("grey sofa", tmp_path / "sofa.wav"), catalog="demo").decision != "search"
    # Spanish espeak speech that Whisper base hears as a YouTube outro (issue 20, item 4)
    garbage = assistant.transcribe(speak("zapatos negros para hombre", tmp_path / "es.wav", "es"), catalog="demo")
    assert garbage.decision != "search", garbage


@needs_espeak
def test_the_chat_puts_a_doubtful_transcript_in_the_box_instead_of_searching(assistant, demo, tmp_path):
    from assistant.shells.web.handlers import WebShell

    shell = WebShell(assistant, "demo", upload_dir=str(tmp_path))
    clip = speak("zapatos negros para hombre", tmp_path / "es.wav", "es")
    view = shell.on_voice("doubt", str(clip), "auto")
    assert view.box and view.voice is None  # the words are left in the box to confirm or edit
    assert view.chat[-1]["role"] == "assistant" and "message box" in view.chat[-1]["content"]
    assert "class='card'" not in (view.cards or "")  # nothing was searched
    assert shell.sessions.get("doubt").conversation.last is None


@needs_espeak
def test_the_cli_honours_the_same_decision_as_the_chat(index_dir, demo, tmp_path):
    """`assistant search --audio` (a real process) searches a clear clip, asks "Did you mean …?" and
    searches the top reading of a doubtful one, and searches nothing when it must ask to repeat."""
    import json

    from tests.shells.test_cli import run_cli

    def search(clip: Path, *more: str):
        return run_cli("search", "--audio", str(clip), "--catalog", "demo", "--k", "3", *more, index_dir=index_dir)

    sure = search(speak("coffee table", tmp_path / "table.wav"), "--json")  # confidence ~0.67
    assert sure.returncode == 0, sure.stderr
    data = json.loads(sure.stdout)
    assert data["transcript"]["decision"] == "search" and "did you mean" not in sure.stderr.lower()
    assert len(data["results"]) == 3 and all("coffee table" in r["title"].lower() for r in data["results"])

    # espeak's British "grey rug": heard "Grey rug", "Ray rug" one place down (confidence ~0.28)
    unsure = search(speak("grey rug", tmp_path / "rug.wav", "en"))
    assert unsure.returncode == 0, unsure.stderr
    lines = unsure.stdout.splitlines()
    assert lines[0].startswith("heard (English") and "did you mean “" in lines[1].lower(), unsure.stdout
    assert "message box" not in unsure.stdout  # the chat's words are not the CLI's
    first = lines[1].split("“")[1].split("”")[0]
    assert f"Searching “{first}”" in lines[1] and "grey rug" in first.lower()
    assert re.match(r"\d+ match(es)? in ", lines[2]) and " 1. " in unsure.stdout and "rug" in lines[3].lower()

    # everyday speech that names nothing in the catalog: one error line, exit 2, nothing searched
    for more in ((), ("--json",)):
        again = search(speak("I don't even know what to do", tmp_path / "none.wav"), *more)
        errors = [l for l in again.stderr.splitlines() if l.strip()]
        assert again.returncode == 2 and errors[-1].startswith("error: Sorry, I didn't catch that"), again.stderr
        assert "know what to do" in errors[-1] and "Traceback" not in again.stderr
        assert not re.search(r"\d+ match(es)? in ", again.stdout) and '"results"' not in again.stdout


@needs_espeak
def test_spoken_eval_reuse_reads_kept_whisper_output_as_the_app_does(assistant, demo, tmp_path):
    """`assistant eval --spoken --reuse`: the first pass keeps Whisper's output; a later pass (from
    the JSON file) only reads it again, and reads it as the app's own `transcribe` does."""
    import json

    from evaluation.spoken_eval import hear

    clip = speak("coffee table", tmp_path / "table.wav")
    raw: dict = {}
    first = hear(assistant, clip, "demo", raw=raw)
    assert len(raw) == 1
    kept = json.loads(json.dumps(raw))  # as it is written between runs
    again = hear(assistant, clip, "demo", raw=kept)
    assert kept == json.loads(json.dumps(raw))  # nothing transcribed again
    app = assistant.transcribe(clip, catalog="demo")
    assert first.text == again.text == app.text and again.decision == app.decision == "search"
