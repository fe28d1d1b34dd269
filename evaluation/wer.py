"""Word error rate of transcripts against what was said: the measure behind docs/voice.md and
the voice tests. Evaluation only; the app never imports it."""

from __future__ import annotations

import re

_NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
            "eight": "8", "nine": "9", "ten": "10", "twenty": "20", "thirty": "30", "forty": "40",
            "fifty": "50", "hundred": "100"}
NORMALIZERS = ("whisper", "basic")


def basic_words(text: str) -> str:
    """Lower-case words without punctuation, "$50" = "50 dollars" = "fifty dollars" (the bench's
    first normalisation; kept as the "basic" column beside the standard one)."""
    text = re.sub(r"\$(\d+)", r"\1 dollars", text.lower().replace("’", "'"))
    text = re.sub(r"(\w)-(\w)", r"\1 \2", text)
    text = re.sub(r"[^\w\s']|'(?!\w)|(?<!\w)'", " ", text)
    return " ".join(_NUMBERS.get(w, w) for w in text.split())


_WHISPER_NORMALIZER = None


def normalize_words(text: str) -> str:
    """The standard English WER normalisation of the Whisper paper (openai-whisper's
    `EnglishTextNormalizer`: case, punctuation, numbers and currency, British/American spelling,
    contractions), after two shopper-typing rules it lacks: a possessive 's is joined
    ("men's" = "mens") and a hyphen between letters is dropped ("t-shirt" = "tshirt").
    Falls back to `basic_words` where openai-whisper is not installed."""
    global _WHISPER_NORMALIZER
    if _WHISPER_NORMALIZER is None:
        try:
            from whisper.normalizers import EnglishTextNormalizer
            _WHISPER_NORMALIZER = EnglishTextNormalizer()
        except ImportError:  # pragma: no cover - openai-whisper is installed by `make setup`
            _WHISPER_NORMALIZER = basic_words
    text = re.sub(r"(?<=[a-z])['’]s\b", "s", text, flags=re.IGNORECASE)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", "", text, flags=re.IGNORECASE)
    return " ".join(_WHISPER_NORMALIZER(text).split())


def word_error_rate(references: list[str], hypotheses: list[str], normalizer: str = "whisper") -> float:
    """Corpus WER (jiwer) after `normalize_words` ("whisper", the standard) or `basic_words`."""
    import jiwer

    norm = normalize_words if normalizer == "whisper" else basic_words
    return float(jiwer.wer([norm(r) for r in references], [norm(h) or "<empty>" for h in hypotheses]))
