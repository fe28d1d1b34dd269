"""Search by voice (docs/voice.md): microphone or audio file, and the spoken language."""

from __future__ import annotations

import gradio as gr

from assistant.shells.web.panels import RESULTS, Page
from assistant.speech.transcribe import VOICE_LANGUAGES


def build(page: Page) -> None:
    with gr.Row():
        voice = gr.Audio(sources=["microphone", "upload"], type="filepath", elem_id="voice",
                         label="…or say it (microphone or audio file)", scale=3)
        language = gr.Dropdown(VOICE_LANGUAGES, value="auto", label="Spoken language",
                               elem_id="voice-language", scale=1, min_width=120)
    page.add(voice=voice, voice_language=language)


def wire(page: Page) -> None:
    page.on(page["voice"].change, page.shell.on_voice, [page["voice"], page["voice_language"]],
            ["box", "voice", *RESULTS, "compare"],
            concurrency_limit=page.settings.voice_concurrency, concurrency_id="voice")
