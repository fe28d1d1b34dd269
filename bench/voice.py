"""Voice benchmark: WER and real-time factor per backend/model, 5 s clip -> results latency,
spoken vs typed top-5 agreement, and translate vs transcribe for non-English speech.

Spoken queries are synthesised with espeak-ng from real shopper phrasing
(`<data_dir>/fashion-queries/query.csv`, `wands-queries/query.csv`); flite voices are measured
beside them when installed. WER uses Whisper's standard English normalisation (`evaluation.wer.normalize_words`),
with the basic one beside it. Run:

    .venv/bin/python bench/voice.py [--n 45] [--openai-n 12] [--json var/bench-voice.json]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import settings_from_env  # noqa: E402
from assistant.core import Assistant  # noqa: E402
from assistant.speech.transcribe import SAMPLE_RATE, load_audio, load_backend, transcribe  # noqa: E402
from evaluation.spoken_eval import pad_to  # noqa: E402
from evaluation.wer import word_error_rate  # noqa: E402

# Synthetic speakers, "engine:voice". The issue's target is on espeak-ng voices; flite (Debian
# main, CMU diphone/cluster voices) is measured beside them when installed, as a more human
# reference. MBROLA voices are not installable here (Debian contrib/non-free).
ESPEAK_VOICES = ("espeak:en-us", "espeak:en")  # American and British, alternating (the headline rows)
OTHER_VOICES = "espeak:en-us/g4,espeak:en/g4;espeak:en-us;espeak:en;flite:slt;flite:kal16;flite:awb"
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


def column(path: Path) -> list[str]:
    """The non-empty `query` column of a WANDS-layout query.csv."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [row["query"].strip() for row in csv.DictReader(fh, delimiter="\t") if row["query"].strip()]


def spread(rows: list[str], k: int, offset: int = 0) -> list[str]:
    """k rows spread evenly over a file (`offset` shifts every pick, for a disjoint second set)."""
    k = min(k, len(rows))
    return [rows[min(len(rows) - 1, i * len(rows) // k + offset)] for i in range(k)]


def queries(data_dir: Path, n: int) -> list[str]:
    """n real queries: two thirds fashion, one third WANDS, spread over each file."""
    fashion = column(data_dir / "fashion-queries" / "query.csv")
    wands = column(data_dir / "wands-queries" / "query.csv")
    n_f = n - n // 3
    return spread(fashion, n_f) + spread(wands, n - n_f)


def speak(text: str, path: Path, voice: str = "en-us", rate: int = RATE) -> Path:
    """Synthesise `text` to a wav: `voice` is an espeak-ng voice, or "engine:voice[/gN]" (espeak or
    flite; /gN = espeak word gap in 10 ms units)."""
    engine, _, name = voice.rpartition(":")
    name, _, gap = name.partition("/g")  # "espeak:en-us/g4": 40 ms pause between words (-g 4)
    if engine == "flite":
        cmd = ["flite", "-voice", name, "-t", text, "-o", str(path)]
    else:
        cmd = ["espeak-ng", "-v", name, "-s", str(rate), "-g", gap or "0", "-w", str(path), text]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def available(voice: str) -> bool:
    return bool(shutil.which("flite" if voice.startswith("flite:") else "espeak-ng"))


def split(query: str) -> str:
    """'tune' or 'test' by a hash of the text: decoding choices were tuned on the 'tune' half only,
    so the 'test' half is an honest estimate (see docs/voice.md)."""
    return "tune" if int(hashlib.md5(query.encode()).hexdigest(), 16) % 2 == 0 else "test"


def wer_columns(refs: list[str], hyps: list[str], n_fashion: int) -> dict:
    """WER (standard normalisation) overall, per source and per tune/test half, plus the basic one."""
    def w(idx, normalizer="whisper"):
        idx = list(idx)
        return round(word_error_rate([refs[i] for i in idx], [hyps[i] for i in idx], normalizer), 4) if idx else None
    every = range(len(refs))
    return {"wer": w(every), "wer_basic": w(every, "basic"),
            "wer_tune": w(i for i in every if split(refs[i]) == "tune"),
            "wer_test": w(i for i in every if split(refs[i]) == "test"),
            "wer_fashion": w(range(min(n_fashion, len(refs)))), "wer_wands": w(range(n_fashion, len(refs)))}


def save(report: dict, path: str | None) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, indent=2, ensure_ascii=False))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=45, help="synthetic English queries for WER (default 45)")
    ap.add_argument("--openai-n", type=int, default=12, help="clips for the (slow) openai-whisper backend")
    ap.add_argument("--catalog", default="fashion")
    ap.add_argument("--home-catalog", default="demo",
                    help="catalog whose words prompt the home-goods (WANDS) clips: a shopper speaks in the store "
                         "they are in ('' = use --catalog for every clip, as before)")
    ap.add_argument("--rows", default="all", help="'all', or 'base' (faster-whisper base, no prompt / catalog "
                                                   "prompt only) for a quick run; sections 2-4 always run")
    ap.add_argument("--voice", default=",".join(ESPEAK_VOICES),
                    help="speaker(s) of the headline rows, alternating (default: espeak en-us and en)")
    ap.add_argument("--voices", default=OTHER_VOICES,
                    help="';'-separated speakers of the per-voice table (base + catalog prompt), each one or "
                         "more ','-separated voices that alternate; '' skips it")
    ap.add_argument("--json", help="write all numbers here")
    args = ap.parse_args()
    if not shutil.which("espeak-ng"):
        sys.exit("espeak-ng is missing: `make system-deps` (or apt-get install espeak-ng)")
    settings = settings_from_env()
    voices = args.voice.split(",")
    report: dict = {"settings": {"beam_size": settings.speech_beam_size, "threads": settings.num_threads,
                                 "speech_prompt": settings.speech_prompt, "normalizer": "whisper EnglishTextNormalizer",
                                 "espeak_rate_wpm": RATE, "voices": voices}}
    tmp = Path(tempfile.mkdtemp(prefix="bench-voice-"))
    try:
        report["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
        assistant = Assistant(settings, progress=True)
        vocab = assistant.engine(args.catalog).vocab  # the active catalog: its words prompt the decoder
        refs = queries(settings.data_dir, args.n)
        n_fashion = args.n - args.n // 3
        home_vocab = assistant.engine(args.home_catalog).vocab if args.home_catalog else vocab
        vocab_of = lambda i: vocab if i < n_fashion else home_vocab  # noqa: E731 - the store each clip is spoken in
        report["settings"]["prompt_catalogs"] = {"fashion clips": args.catalog, "home clips": args.home_catalog or args.catalog}

        def synth(voice_list: list[str], tag: str):
            clips = [speak(q, tmp / f"{tag}q{i:03d}.wav", voice_list[i % len(voice_list)]) for i, q in enumerate(refs)]
            held = [speak(q, tmp / f"{tag}h{i:03d}.wav", voice_list[i % len(voice_list)])
                    for i, q in enumerate(HELD_OUT)]
            return clips, [load_audio(c).size / SAMPLE_RATE for c in clips], held

        def measure(clips, durations, held, backend, model, prompt, n=None, **label):
            n = n or len(clips)
            started = time.perf_counter()
            load_backend(settings, backend, model)
            load_s = time.perf_counter() - started
            run = settings.model_copy(update={"speech_prompt": prompt})  # catalog | catalog-list | none
            heard = [transcribe(c, run, backend=backend, model=model, language="en", vocab=vocab_of(i))
                     for i, c in enumerate(clips[:n])]
            heard_out = [transcribe(c, run, backend=backend, model=model, language="en", vocab=vocab)
                         for c in held] if n == len(clips) else []
            row = {**label, "backend": backend, "model": model, "prompt": prompt, "clips": n,
                   "load_s": round(load_s, 2), "load_average_1min": round(os.getloadavg()[0], 2),
                   **wer_columns(refs[:n], [h.text for h in heard], n_fashion),
                   "wer_held_out": (round(word_error_rate(HELD_OUT, [h.text for h in heard_out]), 4)
                                    if heard_out else None),
                   "rtf": round(sum(h.seconds for h in heard) / sum(durations[:n]), 3),
                   "mean_s_per_clip": round(statistics.mean(h.seconds for h in heard), 3),
                   "examples": [(r, h.text) for r, h in zip(refs[:n], heard)],
                   "held_out_examples": [(r, h.text) for r, h in zip(HELD_OUT, heard_out)]}
            fmt = lambda v: "  -  " if v is None else f"{v:.3f}"  # noqa: E731
            print(f"{label.get('voice', ''):22} {backend:15} {model:8} prompt={prompt:12} n={n:3} WER {fmt(row['wer'])}"
                  f" (basic {fmt(row['wer_basic'])}) tune {fmt(row['wer_tune'])} test {fmt(row['wer_test'])}"
                  f" fashion {fmt(row['wer_fashion'])} wands {fmt(row['wer_wands'])} held-out {fmt(row['wer_held_out'])}"
                  f"  RTF {row['rtf']:.3f}  {row['mean_s_per_clip']:.2f} s/clip  loadavg {row['load_average_1min']}",
                  file=sys.stderr)
            return row

        clips, durations, held = synth(voices, "")
        print(f"{len(clips)} clips, {sum(durations):.0f} s of speech", file=sys.stderr)

        # 1. WER + RTF per backend/model (openai-whisper on the first --openai-n clips only: slow)
        rows = report["asr"] = []  # saved after every row: a long run interrupted keeps what it measured
        for backend, model, prompt in [("faster-whisper", "base", "none"), ("faster-whisper", "base", "catalog-list"),
                                       ("faster-whisper", "base", "catalog"),
                                       ("faster-whisper", "tiny.en", "none"), ("faster-whisper", "tiny.en", "catalog"),
                                       ("openai-whisper", "base", "none"), ("openai-whisper", "base", "catalog"),
                                       ("openai-whisper", "tiny.en", "catalog")]:
            if args.rows == "base" and (backend, model) != ("faster-whisper", "base"):
                continue
            n = len(clips) if backend == "faster-whisper" else min(args.openai_n, len(clips))
            rows.append(measure(clips, durations, held, backend, model, prompt, n, voice=args.voice))
            save(report, args.json)
        # 1b. the same model and prompt per synthetic speaker (how much of the WER is the voice)
        for k, voice in enumerate(v for v in args.voices.split(";") if v):
            if not all(available(v) for v in voice.split(",")):
                print(f"{voice}: not installed, skipped", file=sys.stderr)
                continue
            rows.append(measure(*synth(voice.split(","), f"v{k}"), "faster-whisper", "base", "catalog", voice=voice))
            save(report, args.json)

        # 2. end to end: a 5 s clip -> ranked results, base model, warm, default settings (prompt on)
        clip = speak(LONG_QUERY, tmp / "five.wav", "en-us", 160)
        five = pad_to(clip, clip, 5.0)
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
        save(report, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
