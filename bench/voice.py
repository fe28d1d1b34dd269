"""Voice benchmark: WER and real-time factor per backend/model, 5 s clip -> results latency,
spoken vs typed top-5 agreement, and translate vs transcribe for non-English speech.

Spoken queries are synthesised with espeak-ng from real shopper phrasing
(`<data_dir>/fashion-queries/query.csv`, `wands-queries/query.csv`). Run:

    .venv/bin/python bench/voice.py [--n 45] [--openai-n 12] [--json var/bench-voice.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import settings_from_env  # noqa: E402
from assistant.core import Assistant  # noqa: E402
from assistant.speech import SAMPLE_RATE, load_audio, load_backend, transcribe, word_error_rate  # noqa: E402

VOICES = ("en-us", "en")  # American and British espeak voices, alternating
RATE = 140  # words per minute; espeak's default 175 is faster than shoppers talk
TOP5_QUERIES = ["womens blue jeans", "black watch for men", "brown heels women's", "men's white casual shoes",
                "grey cap", "white sweatshirt", "for women clutch", "navy blue flip flops", "purple top",
                "black formal shoes"]
FOREIGN = [  # (voice, spoken, English twin typed by a shopper)
    ("es", "zapatos negros para hombre", "black shoes for men"),
    ("es", "bolso rojo para mujer", "red handbag for women"),
    ("fr", "montre noire pour homme", "black watch for men"),
    ("fr", "chemise blanche", "white shirt"),
    ("de", "schwarze Sandalen für Damen", "black sandals for women"),
    ("de", "blaue Jeans für Herren", "blue jeans for men"),
]
# Held out from the catalog prompt: the key word of each is NOT a catalog category/colour/gender
# word (synonyms a shopper says: trainers, purse, hoodie, shades, …), so a WER gain here is not
# just the prompt's own words coming back.
HELD_OUT = ["grey trainers for men", "red purse for ladies", "navy hoodie for boys", "denim shorts for girls",
            "black shades for guys", "pink frock for a little girl", "brown loafers", "white tee for women",
            "leather billfold for dad", "gold wristwatch for her", "maroon jumper", "blue rucksack for school"]
LONG_QUERY = "show me black formal shoes for men, in leather, for the office please"


def queries(data_dir: Path, n: int) -> list[str]:
    """n real queries: two thirds fashion, one third WANDS, spread over each file."""
    def column(path: Path) -> list[str]:
        with open(path, newline="", encoding="utf-8") as fh:
            return [row["query"].strip() for row in csv.DictReader(fh, delimiter="\t") if row["query"].strip()]

    fashion = column(data_dir / "fashion-queries" / "query.csv")
    wands = column(data_dir / "wands-queries" / "query.csv")
    n_f = n - n // 3
    pick = lambda rows, k: [rows[i * len(rows) // k] for i in range(k)]  # noqa: E731
    return pick(fashion, n_f) + pick(wands, n - n_f)


def speak(text: str, path: Path, voice: str = "en-us", rate: int = RATE) -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), text], check=True,
                   capture_output=True)
    return path


def pad_to(path: Path, seconds: float) -> Path:
    """Pad a clip with trailing silence to exactly `seconds` (16 kHz wav)."""
    audio = load_audio(path)
    audio = np.concatenate([audio, np.zeros(max(0, int(seconds * SAMPLE_RATE) - audio.size), np.float32)])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=45, help="synthetic English queries for WER (default 45)")
    ap.add_argument("--openai-n", type=int, default=12, help="clips for the (slow) openai-whisper backend")
    ap.add_argument("--catalog", default="fashion")
    ap.add_argument("--json", help="write all numbers here")
    args = ap.parse_args()
    if not shutil.which("espeak-ng"):
        sys.exit("espeak-ng is missing: `make system-deps` (or apt-get install espeak-ng)")
    settings = settings_from_env()
    report: dict = {"settings": {"beam_size": settings.speech_beam_size, "threads": settings.num_threads,
                                 "speech_prompt": settings.speech_prompt,
                                 "espeak_rate_wpm": RATE, "voices": VOICES}}
    tmp = Path(tempfile.mkdtemp(prefix="bench-voice-"))
    try:
        report["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
        assistant = Assistant(settings, progress=True)
        vocab = assistant.engine(args.catalog).vocab  # the active catalog: its words prompt the decoder
        refs = queries(settings.data_dir, args.n)
        n_fashion = args.n - args.n // 3
        clips = [speak(q, tmp / f"q{i:03d}.wav", VOICES[i % len(VOICES)]) for i, q in enumerate(refs)]
        durations = [load_audio(c).size / SAMPLE_RATE for c in clips]
        held = [speak(q, tmp / f"h{i:03d}.wav", VOICES[i % len(VOICES)]) for i, q in enumerate(HELD_OUT)]
        print(f"{len(clips)} clips, {sum(durations):.0f} s of speech", file=sys.stderr)

        # 1. WER + RTF per backend/model (openai-whisper on the first --openai-n clips only: slow)
        rows = []
        for backend, model, prompt in [("faster-whisper", "base", "none"), ("faster-whisper", "base", "catalog"),
                                       ("faster-whisper", "tiny.en", "none"), ("faster-whisper", "tiny.en", "catalog"),
                                       ("openai-whisper", "base", "none"), ("openai-whisper", "tiny.en", "none")]:
            n = len(clips) if backend == "faster-whisper" else min(args.openai_n, len(clips))
            started = time.perf_counter()
            load_backend(settings, backend, model)
            load_s = time.perf_counter() - started
            voc = vocab if prompt == "catalog" else None
            heard = [transcribe(c, settings, backend=backend, model=model, language="en", vocab=voc)
                     for c in clips[:n]]
            sub = min(args.openai_n, n)
            row = {"backend": backend, "model": model, "prompt": prompt, "clips": n, "load_s": round(load_s, 2),
                   "load_average_1min": round(os.getloadavg()[0], 2),
                   "wer": round(word_error_rate(refs[:n], [h.text for h in heard]), 4),
                   f"wer_first{sub}": round(word_error_rate(refs[:sub], [h.text for h in heard[:sub]]), 4),
                   "rtf": round(sum(h.seconds for h in heard) / sum(durations[:n]), 3),
                   "mean_s_per_clip": round(statistics.mean(h.seconds for h in heard), 3),
                   "examples": [(r, h.text) for r, h in zip(refs[:n], heard)]}
            if backend == "faster-whisper":  # split by source, and the held-out synonym set
                heard_out = [transcribe(c, settings, backend=backend, model=model, language="en", vocab=voc)
                             for c in held]
                row.update(wer_fashion=round(word_error_rate(refs[:n_fashion], [h.text for h in heard[:n_fashion]]), 4),
                           wer_wands=round(word_error_rate(refs[n_fashion:], [h.text for h in heard[n_fashion:]]), 4),
                           wer_held_out=round(word_error_rate(HELD_OUT, [h.text for h in heard_out]), 4),
                           held_out_examples=[(r, h.text) for r, h in zip(HELD_OUT, heard_out)])
            rows.append(row)
            extra = (f"  fashion {row['wer_fashion']:.3f} wands {row['wer_wands']:.3f} held-out {row['wer_held_out']:.3f}"
                     if "wer_held_out" in row else "")
            print(f"{backend:15} {model:8} prompt={prompt:7} n={n:3} WER {row['wer']:.3f} (first {sub}: "
                  f"{row[f'wer_first{sub}']:.3f}){extra}  RTF {row['rtf']:.3f}  {row['mean_s_per_clip']:.2f} s/clip"
                  f"  load {load_s:.1f} s  loadavg {row['load_average_1min']}", file=sys.stderr)
        report["asr"] = rows

        # 2. end to end: a 5 s clip -> ranked results, base model, warm, default settings (prompt on)
        five = pad_to(speak(LONG_QUERY, tmp / "five.wav", "en-us", 160), 5.0)
        e2e = []
        for _ in range(5):
            started = time.perf_counter()
            heard = assistant.transcribe(five, catalog=args.catalog)
            response = assistant.search(heard.text, catalog=args.catalog, k=10)
            e2e.append(time.perf_counter() - started)
        report["end_to_end"] = {"clip_s": 5.0, "runs_s": [round(x, 3) for x in e2e],
                                "median_s": round(statistics.median(e2e), 3), "heard": heard.text,
                                "results": len(response.results), "load_average_1min": round(os.getloadavg()[0], 2)}
        print(f"5 s clip -> results: median {statistics.median(e2e):.2f} s ({heard.text!r})", file=sys.stderr)

        # 3. spoken vs typed top-5 (auto language detection, as in the app)
        same = same_set = 0
        pairs = []
        for i, q in enumerate(TOP5_QUERIES):
            heard = assistant.transcribe(speak(q, tmp / f"t{i}.wav", "en-us"), catalog=args.catalog)
            typed = [r.product.id for r in assistant.search(q, catalog=args.catalog, k=5).results]
            spoken = [r.product.id for r in assistant.search(heard.text, catalog=args.catalog, k=5).results]
            same += typed == spoken
            same_set += set(typed) == set(spoken)
            pairs.append({"typed": q, "heard": heard.text, "language": heard.language, "same_top5": typed == spoken})
        report["top5"] = {"same_order": same, "same_set": same_set, "of": len(TOP5_QUERIES), "pairs": pairs}
        print(f"spoken top-5 == typed top-5: {same}/{len(TOP5_QUERIES)} (same set {same_set})", file=sys.stderr)

        # 4. non-English speech: translate to English vs search the transcript as is
        foreign = []
        for i, (voice, said, english) in enumerate(FOREIGN):
            clip = speak(said, tmp / f"f{i}.wav", voice)
            typed = {r.product.id for r in assistant.search(english, catalog=args.catalog, k=5).results}
            entry = {"spoken": said, "voice": voice, "english": english}
            for task in ("translate", "transcribe"):
                heard = assistant.transcribe(clip, task=task, catalog=args.catalog)
                got = {r.product.id for r in assistant.search(heard.text, catalog=args.catalog, k=5).results}
                entry[task] = {"heard": heard.text, "language": heard.language, "overlap@5": len(typed & got)}
            foreign.append(entry)
            print(f"{voice}: {said!r} -> translate {entry['translate']['heard']!r} ({entry['translate']['overlap@5']}/5)"
                  f" | transcribe {entry['transcribe']['heard']!r} ({entry['transcribe']['overlap@5']}/5)"
                  f" [detected {entry['transcribe']['language']}]", file=sys.stderr)
        report["foreign"] = {"items": foreign, **{
            f"{task}_mean_overlap@5": round(statistics.mean(e[task]["overlap@5"] for e in foreign), 2)
            for task in ("translate", "transcribe")},
            "detected_right": sum(e["transcribe"]["language"] == e["voice"] for e in foreign)}
        print(json.dumps({k: v for k, v in report["foreign"].items() if k != "items"}), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
