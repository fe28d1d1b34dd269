"""WER on a larger validation set of spoken queries, disjoint from bench/voice.py's clips.

The 45 bench clips swing by about 0.05 WER from tiny changes, so a decoding idea is judged here
too: N fashion and M WANDS queries spread over the two files, none of them among the bench's 45 or
its held-out 12, synthesised with espeak-ng (alternating en-us / en), transcribed with the
configured backend, the store's catalog prompt (fashion clips: `--catalog`, WANDS clips:
`--home-catalog`) and the language given. `--lead-in 0,0.5` also measures silence put before each
recording (the 2026-11-25 experiment in docs/voice.md). Prints WER overall / fashion / WANDS and
spoken-vs-typed top-5 agreement on the fashion clips.

    .venv/bin/python bench/voice_validation.py [--fashion 120] [--wands 60] [--gap 4] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from assistant.config import settings_from_env  # noqa: E402
from assistant.core import Assistant  # noqa: E402
from assistant.speech.transcribe import SAMPLE_RATE, load_audio, load_backend, prompt_for  # noqa: E402
from evaluation.wer import word_error_rate  # noqa: E402
from voice import HELD_OUT, column, queries, speak, spread  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fashion", type=int, default=120)
    ap.add_argument("--wands", type=int, default=60)
    ap.add_argument("--catalog", default="fashion")
    ap.add_argument("--home-catalog", default="demo")
    ap.add_argument("--gap", type=int, default=0, help="espeak word gap in 10 ms units (4 = the gapped voice)")
    ap.add_argument("--lead-in", default="0", help="comma-separated seconds of silence before each clip")
    ap.add_argument("--json")
    args = ap.parse_args()
    settings = settings_from_env()
    assistant = Assistant(settings)
    bench = set(queries(settings.data_dir, 45)) | set(HELD_OUT)
    # offset 1: spread like the bench, one row later, then without the bench's own queries
    fashion = spread([q for q in column(settings.data_dir / "fashion-queries" / "query.csv") if q not in bench],
                     args.fashion, offset=1)
    wands = spread([q for q in column(settings.data_dir / "wands-queries" / "query.csv") if q not in bench],
                   args.wands, offset=1)
    refs = fashion + wands
    recognizer = load_backend(settings)
    prompts = [prompt_for(assistant.engine(args.catalog).vocab, recognizer, settings.speech_prompt_tokens),
               prompt_for(assistant.engine(args.home_catalog).vocab, recognizer, settings.speech_prompt_tokens)]
    with tempfile.TemporaryDirectory() as tmp:
        clips = [load_audio(speak(q, Path(tmp) / f"v{k}.wav", f"espeak:{('en-us', 'en')[k % 2]}/g{args.gap}"))
                 for k, q in enumerate(refs)]
    typed = [{r.product.id for r in assistant.search(q, catalog=args.catalog, k=5).results} for q in fashion]
    report = {"fashion": len(fashion), "wands": len(wands), "gap": args.gap, "runs": {}}
    for lead in [float(x) for x in args.lead_in.split(",")]:
        started, hyps = time.time(), []
        for k, audio in enumerate(clips):
            audio = np.concatenate([np.zeros(int(lead * SAMPLE_RATE), np.float32), audio])
            hyps.append(recognizer.recognize(audio, "en", "transcribe", ["en"], prompts[k >= len(fashion)])[0].strip())
        same = sum({r.product.id for r in assistant.search(h or "?", catalog=args.catalog, k=5).results} == t
                   for h, t in zip(hyps, typed))
        row = {"wer": round(word_error_rate(refs, hyps), 4),
               "wer_fashion": round(word_error_rate(fashion, hyps[:len(fashion)]), 4),
               "wer_wands": round(word_error_rate(wands, hyps[len(fashion):]), 4) if wands else None,
               "same_top5": f"{same}/{len(fashion)}", "seconds": round(time.time() - started, 1)}
        print(f"lead-in {lead:.2f} s: {row}", flush=True)
        report["runs"][str(lead)] = row | {"transcripts": list(zip(refs, hyps))}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
