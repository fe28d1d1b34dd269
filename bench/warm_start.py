"""Warm start (issue 20, item 10): how long the first query after a catalog switch and the first
voice query take in a freshly started process, against the same queries once warm.

Each run is a new process that starts like `assistant serve`: it loads the default catalog, then
(unless --cold) starts `Assistant.warm_in_background`; a shopper arrives when it has finished
(`--arrive-after` seconds instead: a shopper who comes sooner) and
  1. switches to the other catalog and searches (first switch query),
  2. sends a spoken query (espeak-ng) on that catalog (first voice query: transcribe + search),
  3. repeats both `--warm` times (warm queries).
The parent prints p50/p95 over runs of the first ones, p95 over all warm ones, and the ratio.

    python -m bench.warm_start --runs 5            # with warm start (what the server does)
    python -m bench.warm_start --runs 5 --cold     # without it, for comparison

Indexes: the fashion index is copied from ASSISTANT_INDEX_DIR (or built) into a temporary folder,
the demo one built there once, so nothing outside it is written. Photo indexes are left out by
default (`--photos` warms them too: building the fashion one takes ~10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the first query, then the warm ones: all different, so no query-vector cache flatters the warm ones
QUERIES = {"demo": ["grey sofa under 800", "blue area rug", "oak coffee table", "leather handbag",
                    "floor lamp", "white sneakers", "linen duvet cover", "dining chairs"],
           "fashion": ["women's black heels", "men's watch", "red kurta", "blue jeans", "sports shoes",
                       "leather wallet", "white tshirt", "black handbag"]}
SPOKEN = {"demo": "grey sofa", "fashion": "black watch for men"}


def child(args) -> dict:
    from assistant.chat.dialog import Conversation
    from assistant.config import settings_from_env
    from assistant.core import Assistant

    started = time.perf_counter()
    assistant = Assistant(settings_from_env(index_dir=args.index_dir), progress=False)
    assistant.engine(args.first)  # what serve() does before it answers
    ready = time.perf_counter() - started
    out: dict = {"serving_after_s": round(ready, 3)}
    if not args.cold:
        thread = assistant.warm_in_background(args.first, photos=args.photos, voice=True)
        if args.arrive_after is None:
            thread.join()
        out["warm_up_s"] = assistant.warmed.get("done")
    if args.arrive_after is not None:
        time.sleep(max(0.0, args.arrive_after - (time.perf_counter() - started - ready)))

    queries = iter(QUERIES[args.switch] * 10)

    def switch_query() -> float:
        t = time.perf_counter()
        conv = Conversation(assistant, catalog=args.switch)  # the picker's new value
        reply = conv.handle(next(queries))
        assert reply.response is not None and reply.response.results, reply.message
        return time.perf_counter() - t

    def voice_query() -> float:
        t = time.perf_counter()
        heard = assistant.transcribe(args.wav, catalog=args.switch)
        Conversation(assistant, catalog=args.switch).handle(heard.text)
        return time.perf_counter() - t

    out["first_switch_s"] = round(switch_query(), 3)
    out["first_voice_s"] = round(voice_query(), 3)
    out["warm_switch_s"] = [round(switch_query(), 3) for _ in range(args.warm)]
    out["warm_voice_s"] = [round(voice_query(), 3) for _ in range(args.warm)]
    return out


def prepare(index_dir: Path, switch: str, first: str) -> None:
    """The fashion index copied (never written where it came from); the other built here."""
    from assistant.config import settings_from_env
    from assistant.core import Assistant

    source = Path(os.environ.get("ASSISTANT_INDEX_DIR", "")) / "fashion"
    if (source / "manifest.json").exists() and not (index_dir / "fashion").exists():
        shutil.copytree(source, index_dir / "fashion")
    assistant = Assistant(settings_from_env(index_dir=index_dir), progress=False)
    for name in dict.fromkeys([first, switch]):
        assistant.engine(name)


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warm", type=int, default=5, help="warm queries of each kind per run")
    ap.add_argument("--first", default="fashion", help="the catalog the server starts with")
    ap.add_argument("--switch", default="demo", help="the catalog the shopper switches to")
    ap.add_argument("--cold", action="store_true", help="no warm start (the old behaviour)")
    ap.add_argument("--photos", action="store_true", help="warm photo indexes too")
    ap.add_argument("--arrive-after", type=float, default=None,
                    help="the shopper arrives this many seconds after serving starts (default: after warm-up)")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--index-dir", help=argparse.SUPPRESS)
    ap.add_argument("--wav", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args)), flush=True)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="warm-start-"))
    try:
        index_dir = tmp / "indexes"
        prepare(index_dir, args.switch, args.first)
        wav = tmp / "query.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), SPOKEN[args.switch]], check=True, timeout=60)
        runs = []
        for i in range(args.runs):
            cmd = [sys.executable, "-m", "bench.warm_start", "--child", "--index-dir", str(index_dir),
                   "--wav", str(wav), "--first", args.first, "--switch", args.switch, "--warm", str(args.warm)]
            cmd += ["--cold"] if args.cold else []
            cmd += ["--photos"] if args.photos else []
            cmd += ["--arrive-after", str(args.arrive_after)] if args.arrive_after is not None else []
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
                                  env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"))
            line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
                return 1
            runs.append(json.loads(line[7:]))
            print(f"run {i + 1}: {runs[-1]}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report: dict = {"mode": "cold" if args.cold else "warm start", "runs": len(runs),
                    "first": args.first, "switch": args.switch, "arrive_after": args.arrive_after}
    for kind in ("switch", "voice"):
        first = [r[f"first_{kind}_s"] for r in runs]
        warm = [x for r in runs for x in r[f"warm_{kind}_s"]]
        report[kind] = {"first_p50": pct(first, 50), "first_p95": pct(first, 95),
                        "warm_p50": pct(warm, 50), "warm_p95": pct(warm, 95),
                        "ratio_p95": round(pct(first, 95) / max(pct(warm, 95), 1e-9), 2)}
    report["serving_after_s_p50"] = pct([r["serving_after_s"] for r in runs], 50)
    if not args.cold:
        report["warm_up_s_p50"] = pct([r.get("warm_up_s") or 0.0 for r in runs], 50)
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
