"""Spoken queries against typed ones (issue 19): `assistant eval --spoken`.

Each judged query (English sets without typos; the multilingual set for es/fr/de) is spoken by
synthetic voices (espeak-ng, flite, festival), sent through `Assistant.transcribe` exactly as the chat does
(spoken language detected, the catalog's prompt), and the transcript is searched in smart mode.
Per voice: typed nDCG@10, spoken nDCG@10, their ratio, WER against the typed query, how many
queries have the same top-5 (as a set) spoken and typed, and the clip -> results time.

Queries are split into a `dev` part (about 30 %, every lever was developed on it) and an `unseen`
part by a hash of set name and query id (`part_of`), so the split never moves. Clips are
synthesised on the fly into a cache folder (default `var/spoken-clips/`, git-ignored), one wav per
(engine, voice, rate, text) hash.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from assistant.errors import ShopperError
from evaluation.search_eval import hardware, load_labels, load_queries, ndcg_at_k

ROOT = Path(__file__).resolve().parent.parent
ENGLISH_SETS = ("fashion-unseen", "fashion-synonyms", "fashion-paraphrases")
FOREIGN_SET = "fashion-multilingual"
FOREIGN_LANGUAGES = ("es", "fr", "de")
VOICES = ("espeak:en-us", "flite:slt")  # the espeak voice and a more human flite one
MORE_VOICES = ("flite:awb", "espeak:en", "festival:kal_diphone", "festival:cmu_us_slt_arctic_hts")
ENGINES = {"espeak": "espeak-ng", "flite": "flite", "festival": "text2wave"}  # engine -> program
RATE = 150  # espeak words per minute (the measurement)
PARTS = ("dev", "unseen", "all")
DEV_BUCKETS = 3  # of 10


def part_of(set_name: str, query_id: str) -> str:
    """'dev' when int(sha1("spoken:<set>:<id>")) % 10 < 3, else 'unseen'; depends on the names alone."""
    digest = hashlib.sha1(f"spoken:{set_name}:{query_id}".encode()).hexdigest()
    return "dev" if int(digest, 16) % 10 < DEV_BUCKETS else "unseen"


def _order(q: "SpokenQuery") -> str:
    return hashlib.sha1(f"order:{q.set}:{q.id}".encode()).hexdigest()


@dataclass
class SpokenQuery:
    set: str
    id: str
    text: str
    language: str
    labels: dict[str, int]
    part: str = ""


def english_queries(engine, root: Path = ROOT / "eval") -> list[SpokenQuery]:
    """English judged queries without typos: the parser read no word as a misspelling and none as
    another language, and the text is ASCII (that is how typos, Spanish and Chinese rows are told
    apart from plain English)."""
    from assistant.language.understand import parse

    out = []
    for name in ENGLISH_SETS:
        labels = load_labels(root / name / "label.csv")
        for q in load_queries(root / name / "query.csv"):
            parsed = parse(q.text, engine.vocab, reader=engine.reader)
            if parsed.corrected or parsed.language or not q.text.isascii() or not any(g > 0 for g in labels.get(q.id, {}).values()):
                continue
            out.append(SpokenQuery(name, q.id, q.text, "en", labels.get(q.id, {}), part_of(name, q.id)))
    return out


def foreign_queries(root: Path = ROOT / "eval", languages=FOREIGN_LANGUAGES) -> list[SpokenQuery]:
    out = []
    for name in (FOREIGN_SET, FOREIGN_SET + "-unseen"):
        labels = load_labels(root / name / "label.csv")
        for q in load_queries(root / name / "query.csv"):
            if q.language in languages and any(g > 0 for g in labels.get(q.id, {}).values()):
                out.append(SpokenQuery(name, q.id, q.text, q.language, labels[q.id], part_of(name, q.id)))
    return out


def pick(queries: list[SpokenQuery], part: str, limit: int | None) -> list[SpokenQuery]:
    """The queries of a part, in a fixed hash order (so a limit takes a spread of every set)."""
    if part not in PARTS:
        raise ShopperError(f"Unknown part '{part}'. Use one of: {', '.join(PARTS)}.")
    chosen = sorted((q for q in queries if part == "all" or q.part == part), key=_order)
    return chosen[:limit] if limit else chosen


# ---------------------------------------------------------------- speaking
@functools.lru_cache(maxsize=1)
def festival_voices() -> tuple[str, ...]:
    """The voices festival has installed (Debian: festvox-kallpc16k -> kal_diphone,
    festvox-us-slt-hts -> cmu_us_slt_arctic_hts), from festival's own `(voice.list)`."""
    if not shutil.which("festival"):
        return ()
    out = subprocess.run(["festival", "-b", "(print (voice.list))"], capture_output=True, text=True,
                         timeout=60).stdout
    return tuple(re.findall(r"[A-Za-z0-9_]+", out))


def available(voice: str) -> bool:
    engine, _, name = voice.partition(":")
    if engine == "festival":
        return bool(shutil.which("text2wave")) and name in festival_voices()
    return bool(shutil.which(ENGINES.get(engine, "espeak-ng")))


def speak(text: str, voice: str, cache: Path, rate: int = RATE) -> Path:
    """A wav of `text` in `voice` ("espeak:<voice>[/gN]", "flite:<voice>" or "festival:<voice>",
    e.g. festival:kal_diphone, a 16 kHz wav, or festival:cmu_us_slt_arctic_hts, 32 kHz; the
    transcriber resamples any rate to 16 kHz), cached by hash."""
    engine, _, name = voice.partition(":")
    name, _, gap = name.partition("/g")
    key = hashlib.sha1(f"{engine}|{name}|{gap}|{rate}|{text}".encode()).hexdigest()[:20]
    path = cache / f"{key}.wav"
    if path.is_file() and path.stat().st_size > 44:
        return path
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{key}.{os.getpid()}.wav"
    said = None
    if engine == "flite":
        cmd = ["flite", "-voice", name, "-t", text, "-o", str(tmp)]
    elif engine == "espeak":
        cmd = ["espeak-ng", "-v", name, "-s", str(rate), "-g", gap or "0", "-w", str(tmp), text]
    elif engine == "festival":
        if not re.fullmatch(r"[A-Za-z0-9_]+", name) or name not in festival_voices():
            raise ShopperError(f"Unknown festival voice '{name}'. Installed: "
                               f"{', '.join(festival_voices()) or 'none (make system-deps)'}.")
        cmd, said = ["text2wave", "-eval", f"(voice_{name})", "-o", str(tmp)], text.encode()  # text on stdin
    else:
        raise ShopperError(f"Unknown voice '{voice}': use espeak:<voice>, flite:<voice> or festival:<voice>.")
    proc = subprocess.run(cmd, input=said, check=True, capture_output=True, timeout=120)
    if not tmp.is_file() or tmp.stat().st_size <= 44:  # text2wave exits 0 on a Scheme error, writing nothing
        tmp.unlink(missing_ok=True)
        raise ShopperError(f"{voice} wrote no audio for {text!r}: {proc.stderr.decode(errors='replace').strip()}")
    os.replace(tmp, path)
    return path


def clip_seconds(path: Path) -> float:
    """Length of a synthesised wav (espeak writes 22.05 kHz, flite and festival kal 16 kHz, festival's
    HTS slt 32 kHz)."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def pad_to(src: Path, dst: Path, seconds: float) -> Path:
    """`src` followed by silence up to `seconds` (16 kHz wav): the 5 s clip of the latency check."""
    from assistant.speech.transcribe import SAMPLE_RATE, load_audio

    audio = load_audio(src)
    audio = np.concatenate([audio, np.zeros(max(0, int(seconds * SAMPLE_RATE) - audio.size), np.float32)])
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return dst


# ---------------------------------------------------------------- running
@dataclass
class VoiceResult:
    voice: str
    part: str
    rows: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        from evaluation.wer import word_error_rate

        rows = self.rows
        typed = statistics.fmean(r["typed_ndcg"] for r in rows) if rows else 0.0
        spoken = statistics.fmean(r["spoken_ndcg"] for r in rows) if rows else 0.0
        times = [r["clip_to_results_s"] for r in rows]
        decisions: dict[str, int] = {}
        for r in rows:
            decisions[r.get("decision", "search")] = decisions.get(r.get("decision", "search"), 0) + 1
        english = [r for r in rows if r["language"] == "en"]
        return {
            "voice": self.voice, "part": self.part, "queries": len(rows),
            "typed_ndcg@10": round(typed, 4), "spoken_ndcg@10": round(spoken, 4),
            "ratio": round(spoken / typed, 3) if typed else None,
            "wer": round(word_error_rate([r["typed"] for r in english], [r["heard"] for r in english]), 4)
            if english else None,
            "same_top5": sum(r["same_top5"] for r in rows),
            "clip_to_results_s_median": round(statistics.median(times), 3) if times else None,
            "clip_to_results_s_p95": round(sorted(times)[max(0, int(0.95 * len(times)) - 1)], 3) if times else None,
            "clip_s_median": round(statistics.median(r["clip_s"] for r in rows), 2) if rows else None,
            "decisions": decisions,
            # what the shopper saw: a searched transcript that lost over half of the typed nDCG is a
            # wrong answer; one held back (confirm/repeat) is a question instead
            "searched_wrong": sum(r.get("decision", "search") == "search" and r["spoken_ndcg"] < 0.5 * r["typed_ndcg"]
                                  for r in rows),
            "held_back_wrong": sum(r.get("decision", "search") != "search" and r["spoken_ndcg"] < 0.5 * r["typed_ndcg"]
                                   for r in rows),
            "held_back_right": sum(r.get("decision", "search") != "search" and r["spoken_ndcg"] >= 0.5 * r["typed_ndcg"]
                                   for r in rows),
        }


def _top(assistant, text: str, catalog: str) -> list[str]:
    try:
        return [r.product.id for r in assistant.search(text, catalog=catalog, k=10, mode="smart").results]
    except ShopperError:
        return []


def hear(assistant, clip: Path, catalog: str, language: str | None = None, task: str | None = None,
         raw: dict | None = None):
    """`Assistant.transcribe` (what the app calls); with `raw` (a dict kept in a JSON file between
    runs) Whisper's own output is reused and only the reading (reading.read) runs again, so reading
    levers can be compared on the same transcripts. Timings are then not clip -> results times."""
    if raw is None:
        return assistant.transcribe(clip, language=language, task=task, catalog=catalog)
    from dataclasses import asdict

    from assistant.speech.reading import read
    from assistant.speech.transcribe import AudioError, Transcript, transcribe

    s = assistant.settings
    engine = assistant.engine(catalog)
    key = "|".join(str(x) for x in (clip.name, s.speech_model, s.speech_backend, s.speech_prompt,
                                    s.speech_prompt_tokens, s.speech_beam_size, language, task, catalog))
    if key not in raw:
        try:
            raw[key] = asdict(transcribe(clip, s, language=language, task=task,
                                         vocab=engine.vocab if s.speech_prompt != "none" else None,
                                         english=engine.is_english))
        except AudioError as exc:
            raw[key] = {"error": str(exc)}
    if "error" in raw[key]:
        raise AudioError(raw[key]["error"])
    return read(Transcript(**{**raw[key], "hypotheses": [list(h) for h in raw[key]["hypotheses"]]}), engine,
                nbest_weight=s.speech_nbest_weight, search_at=s.speech_search_at, ask_at=s.speech_ask_at,
                phonetic=s.speech_phonetic, english=engine.is_english)


def run_spoken(assistant, queries: list[SpokenQuery], voices: list[str], catalog: str = "fashion",
               cache: Path | None = None, language: str | None = None, task: str | None = None,
               progress: Callable[[str], None] | None = None, part: str = "",
               raw: dict | None = None) -> list[VoiceResult]:
    """Speak, transcribe (as the app does), search; one `VoiceResult` per voice."""
    from assistant.speech.transcribe import AudioError

    say = progress or (lambda _m: None)
    cache = cache or assistant.settings.var_dir / "spoken-clips"
    typed_top = {(q.set, q.id): _top(assistant, q.text, catalog) for q in queries}
    results = []
    for voice in voices:
        if not available(voice):
            say(f"{voice}: not installed, skipped" + (f" (festival voices here: {', '.join(festival_voices()) or 'none'})"
                                                      if voice.startswith("festival:") else ""))
            continue
        result = VoiceResult(voice, part)
        for i, q in enumerate(queries):
            clip = speak(q.text, voice, cache)
            started = time.perf_counter()
            try:
                heard = hear(assistant, clip, catalog, language, task, raw)
                text = heard.text
            except AudioError:
                heard, text = None, ""
            spoken_top = _top(assistant, text, catalog) if text else []
            elapsed = time.perf_counter() - started
            typed = typed_top[(q.set, q.id)]
            row = {"set": q.set, "id": q.id, "language": q.language, "typed": q.text, "heard": text,
                   "typed_ndcg": ndcg_at_k(typed, q.labels, 10), "spoken_ndcg": ndcg_at_k(spoken_top, q.labels, 10),
                   "same_top5": set(typed[:5]) == set(spoken_top[:5]),
                   "clip_to_results_s": round(elapsed, 3),
                   "clip_s": round(clip_seconds(clip), 2)}
            if heard is not None:
                row["language_heard"], row["task"] = heard.language, heard.task
                for k in ("confidence", "decision", "alternatives", "avg_logprob", "no_speech_prob",
                          "heard_as", "language_probability"):
                    if hasattr(heard, k):
                        row[k] = getattr(heard, k)
            else:
                row["decision"] = "repeat"
            result.rows.append(row)
            if (i + 1) % 10 == 0:
                say(f"{voice} {part}: {i + 1}/{len(queries)}")
        results.append(result)
    return results


def five_second_latency(assistant, catalog: str, cache: Path, runs: int = 3) -> float:
    """Median seconds from a 5 s clip (a query + silence) to ten ranked results."""
    clip = pad_to(speak("black formal shoes for men", VOICES[0], cache), cache / "five-seconds.wav", 5.0)
    assistant.transcribe(clip, catalog=catalog)  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        heard = assistant.transcribe(clip, catalog=catalog)
        assistant.search(heard.text, catalog=catalog, k=10, mode="smart")
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def table(summaries: list[dict]) -> str:
    w = max([16] + [len(s["voice"]) for s in summaries])  # festival:cmu_us_slt_arctic_hts is 30
    head = (f"{'voice':<{w}} {'part':<7} {'n':>4} {'typed':>7} {'spoken':>7} {'ratio':>6} {'WER':>6} "
            f"{'top5=':>6} {'s med':>6} {'s p95':>6}  decisions")
    lines = [head, "-" * len(head)]
    for s in summaries:
        wer = f"{s['wer']:>6.3f}" if s["wer"] is not None else f"{'-':>6}"
        lines.append(f"{s['voice']:<{w}} {s['part']:<7} {s['queries']:>4} {s['typed_ndcg@10']:>7.4f} "
                     f"{s['spoken_ndcg@10']:>7.4f} {s['ratio'] or 0:>6.3f} {wer} "
                     f"{s['same_top5']:>3}/{s['queries']:<2} {s['clip_to_results_s_median']:>6.2f} "
                     f"{s['clip_to_results_s_p95']:>6.2f}  {s['decisions']}")
    return "\n".join(lines)


def cmd_eval_spoken(args, settings) -> int:
    """`assistant eval --spoken`: the table on stdout, every transcript in --json."""
    from assistant.core import Assistant
    from evaluation.search_eval import write_report

    if not shutil.which("espeak-ng"):
        raise ShopperError("espeak-ng is missing: run `make system-deps` (or apt-get install espeak-ng flite).")
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    assistant = Assistant(settings, progress=True)
    catalog = settings.resolve_catalog(args.catalog)
    engine = assistant.engine(catalog)
    cache = Path(args.clips) if getattr(args, "clips", None) else settings.var_dir / "spoken-clips"
    voices = [v.strip() for v in (args.voices or ",".join(VOICES)).split(",") if v.strip() not in ("", "none")]
    for voice in voices:
        if voice.partition(":")[0] not in ENGINES or not voice.partition(":")[2]:
            raise ShopperError(f"Unknown voice '{voice}': use engine:voice with engine one of "
                               f"{', '.join(ENGINES)} (e.g. espeak:en-us, flite:slt, festival:kal_diphone).")
    parts = ["dev", "unseen"] if args.part == "both" else [args.part]
    limit = args.limit
    report: dict = {"catalog": catalog, "voices": voices, "espeak_rate_wpm": RATE,
                    "speech": {k: getattr(settings, k) for k in (
                        "speech_model", "speech_backend", "speech_prompt", "speech_prompt_tokens",
                        "speech_beam_size", "speech_phonetic", "speech_nbest_weight", "speech_search_at",
                        "speech_ask_at")},
                    "hardware": hardware(), "results": []}
    import json

    raw = None
    if getattr(args, "reuse", None):
        raw = json.loads(Path(args.reuse).read_text()) if Path(args.reuse).is_file() else {}
        report["reused_transcripts"] = args.reuse
    started = time.perf_counter()
    summaries = []
    english = english_queries(engine)
    say(f"{len(english)} English queries without typos "
        f"({sum(q.part == 'dev' for q in english)} dev, {sum(q.part == 'unseen' for q in english)} unseen)")
    for part in parts:
        chosen = pick(english, part, limit)
        for result in run_spoken(assistant, chosen, voices, catalog, cache, progress=say, part=part, raw=raw):
            summaries.append(result.summary())
            report["results"].append({**summaries[-1], "rows": result.rows})
            say(table(summaries[-1:]))
    if args.foreign:
        foreign = foreign_queries()
        for part in parts:
            for lang in FOREIGN_LANGUAGES:
                chosen = pick([q for q in foreign if q.language == lang], part, args.foreign_limit)
                for result in run_spoken(assistant, chosen, [f"espeak:{lang}"], catalog, cache, progress=say,
                                         part=part, raw=raw, language=lang if args.given_language else None):
                    summaries.append(result.summary())
                    report["results"].append({**summaries[-1], "rows": result.rows})
                    say(table(summaries[-1:]))
    if args.latency:
        report["five_second_clip_to_results_s"] = five_second_latency(assistant, catalog, cache)
    if raw is not None:
        Path(args.reuse).write_text(json.dumps(raw))
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["load_average_end"] = hardware()["load_average"]
    print(table(summaries))
    if "five_second_clip_to_results_s" in report:
        print(f"5 s clip -> results: {report['five_second_clip_to_results_s']:.2f} s (median of 3)")
    print(f"({report['seconds']:.0f} s, load average {report['load_average_end']})")
    if args.json:
        write_report(args.json, report)
        say(f"wrote {args.json}")
    return 0
