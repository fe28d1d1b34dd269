"""Spoken queries read against the catalog (issue 19): a clip of a query finds the product; a
clip Whisper turns into an everyday sentence is never searched; a misheard word that sounds like a
catalog word is read as it. Real Whisper base, real espeak-ng clips, the demo catalog."""

from __future__ import annotations

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
