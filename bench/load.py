"""Load test (issue 6): N simulated shoppers against the real app on 127.0.0.1, for a bounded time.

Starts `python -m assistant serve` itself on a free loopback port, waits until it answers (and
until photo search is ready, when the catalog has photos), then runs:
  1. an idle baseline: 1 shopper, text queries only;
  2. the load: N shoppers (default 20), each a separate Gradio session over Gradio's HTTP API
     (what the page itself calls), mixing text queries, refinements ("in brown"), photo uploads
     and voice uploads, with think time; after each answer the page's follow-up call
     (`after_results`: record views, refresh "For you") runs too, timed on its own.
Both phases are bounded in time (--duration, --baseline) and count (--max-requests per shopper).
Reports requests/s, p50/p95/p99 per kind (the time until the answer is on screen), the follow-up
call, errors, the app's RSS over the run, and the load/idle p95 ratio for text queries, both
for the answer alone and for answer + follow-up. `--json OUT` writes the numbers.

    .venv/bin/python bench/load.py                       # 20 shoppers x 120 s
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FASHION = ROOT.parent / "shared" / "data" / "fashion"
QUERIES = {
    "fashion": ["women's black heels", "blue jeans for men", "red t-shirt", "brown leather handbag",
                "sports shoes for women", "black watch for men", "sunglasses", "white shirt"],
    "demo": ["grey sofa", "coffee mug", "desk lamp", "running shoes", "wooden chair", "blue rug"],
}
REFINES = {"fashion": ["in brown", "for women", "in black", "casual"], "demo": ["under 800", "in blue", "cheaper"]}
GENERIC = "something went wrong"
PREPARING = "still being prepared"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of the app process (psutil when installed, else /proc)."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


class App:
    """The app under test as a child process; its log goes to a temp file."""

    def __init__(self, catalog: str, index_dir: str | None, history_db: str, timeout_s: float = 600) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = tempfile.NamedTemporaryFile("wb", prefix="load-app-", suffix=".log", delete=False)
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1",
                   ASSISTANT_HISTORY_DB=history_db)  # simulated shoppers never touch the real history
        if index_dir:
            env["ASSISTANT_INDEX_DIR"] = index_dir
        self.proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(self.port),
                                      "--catalog", catalog], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the app exited ({self.proc.returncode}); see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the app did not start within {timeout_s:.0f} s; see {self.log.name}")
            time.sleep(1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


class HttpShopper:
    """One browser session over Gradio's plain HTTP API (`/gradio_api/call/<api>` + its SSE
    stream, one session hash per shopper), as light on the client side as a browser tab: the
    load generator shares the 2 cores with the app, and gradio_client spends ~0.2 s of CPU per
    call on its own bookkeeping, which would starve the app under test (measured)."""

    def __init__(self, url: str, catalog: str, timeout_s: float, rng: random.Random,
                 history: bool = True) -> None:
        import httpx

        self.http = httpx.Client(base_url=url.rstrip("/") + "/gradio_api", timeout=timeout_s)
        self.session = "load" + "".join(rng.choice("0123456789abcdef") for _ in range(12))
        self.catalog, self.timeout_s, self.rng = catalog, timeout_s, rng
        self.chat: list = []
        self.history = history
        self.main_s = self.follow_s = 0.0  # the answer, and the page's follow-up call, timed apart

    def _run(self, api: str, data: list) -> list:
        r = self.http.post(f"/call/{api}", json={"data": data, "session_hash": self.session})
        r.raise_for_status()
        event_id = r.json()["event_id"]
        event = None
        with self.http.stream("GET", f"/call/{api}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    if event == "error":
                        raise RuntimeError(f"{api}: {line[5:].strip()[:160]}")
                    return json.loads(line[5:])
        raise RuntimeError(f"{api}: the stream ended without a result")

    def _upload(self, path: str) -> dict:
        with open(path, "rb") as fh:
            r = self.http.post("/upload", files={"files": (Path(path).name, fh)})
        r.raise_for_status()
        return {"path": r.json()[0], "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}

    def _call(self, api: str, *args) -> str:
        started = time.perf_counter()
        out = self._run(api, list(args))
        self.main_s, self.follow_s = time.perf_counter() - started, 0.0
        chat = next((o for o in out if isinstance(o, list)), None)
        if not chat:
            raise RuntimeError(f"{api}: no chat in the reply")
        self.chat = chat[-6:]  # keep the request small, like a page would after a while
        last = chat[-1]
        if self.history:  # the page's cards.change event: record views + refresh "For you"
            started = time.perf_counter()
            self._run("after_results", [self.chat])
            self.follow_s = time.perf_counter() - started
        return str(last.get("content") if isinstance(last, dict) else last)

    def text(self) -> str:
        return self._call("on_message", self.rng.choice(QUERIES[self.catalog]), self.chat)

    def refine(self) -> str:
        return self._call("on_message", self.rng.choice(REFINES[self.catalog]), self.chat)

    def photo(self, path: str) -> str:
        return self._call("on_photo", self._upload(path), "", self.chat)

    def voice(self, path: str) -> str:
        return self._call("on_voice", self._upload(path), "auto", self.chat)


def run_phase(url: str, catalog: str, shoppers: int, duration: float, max_requests: int, mix: dict,
              files: dict, timeout_s: float, think: tuple[float, float], seed: int) -> dict:
    """Run `shoppers` threads for `duration` s (or `max_requests` each); return latencies by kind."""
    lat: dict[str, list[float]] = {k: [] for k in [*mix, "for_you"]}
    text_total: list[float] = []  # text/refine answer + the follow-up call
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration
    kinds, weights = zip(*[(k, w) for k, w in mix.items() if w > 0 and (k not in files or files[k])])

    def shopper(i: int) -> None:
        rng = random.Random(seed + i)
        try:
            s = HttpShopper(url, catalog, timeout_s, rng)
        except Exception as exc:  # noqa: BLE001 - a failed connection is a result, not a crash
            with lock:
                errors.append(f"connect: {exc!r}"[:200])
            return
        time.sleep(rng.uniform(0, think[1]))  # do not all arrive in the same millisecond
        done, last = 0, None
        while time.monotonic() < stop_at and done < max_requests:
            kind = rng.choices(kinds, weights)[0]
            if kind == "refine" and last != "text":
                kind = "text"
            started = time.perf_counter()
            try:
                arg = (files[kind],) if kind in files else ()
                reply = getattr(s, kind)(*arg)
                took = time.perf_counter() - started
                bad = GENERIC in reply.lower() or took > timeout_s
                with lock:
                    if bad:
                        errors.append(f"{kind}: {reply[:120]!r} ({took:.1f} s)")
                    else:  # the shopper sees the answer after main_s; "For you" updates after
                        lat[kind].append(s.main_s)
                        lat["for_you"].append(s.follow_s)
                        if kind in ("text", "refine"):
                            text_total.append(s.main_s + s.follow_s)
            except Exception as exc:  # noqa: BLE001
                with lock:
                    errors.append(f"{kind}: {exc!r}"[:200])
            done, last = done + 1, kind
            time.sleep(rng.uniform(*think))

    started = time.monotonic()
    threads = [threading.Thread(target=shopper, args=(i,), daemon=True) for i in range(shoppers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + timeout_s + 60)
    wall = time.monotonic() - started
    total = sum(len(v) for v in lat.values())
    return {
        "shoppers": shoppers, "seconds": round(wall, 1), "requests": total + len(errors),
        "requests_per_s": round((total + len(errors)) / wall, 2), "errors": len(errors),
        "error_samples": errors[:10],
        "latency_s": {k: {"n": len(v), "p50": round(percentile(v, 50), 3), "p95": round(percentile(v, 95), 3),
                          "p99": round(percentile(v, 99), 3)} for k, v in lat.items() if v},
        "_text": lat.get("text", []) + lat.get("refine", []),
        "_text_total": text_total,
    }


def make_files(catalog: str, workdir: Path) -> dict:
    """A catalog photo (fashion) and a spoken query (espeak-ng), when available."""
    files: dict = {"photo": None, "voice": None}
    if catalog == "fashion" and (FASHION / "styles.csv").exists():
        with (FASHION / "styles.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                path = FASHION / "images" / f"{row['id']}.jpg"
                if row["articleType"] == "Watches" and path.is_file():
                    files["photo"] = str(path)
                    break
    espeak = shutil.which("espeak-ng")
    if espeak:
        wav = workdir / "query.wav"
        subprocess.run([espeak, "-w", str(wav), "black watch for men"], check=True, timeout=60)
        files["voice"] = str(wav)
    return files


def wait_photo_ready(app: App, catalog: str, photo: str | None, timeout_s: float, rng) -> bool:
    """Photo search answers 'still being prepared' while its index is built: wait (bounded)."""
    if not photo:
        return False
    s = HttpShopper(app.url, catalog, 120, rng)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reply = s.photo(photo)
        if PREPARING not in reply:
            return "no product photos" not in reply
        time.sleep(5)
    return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shoppers", type=int, default=20)
    p.add_argument("--duration", type=float, default=120.0, help="seconds of load (default 120)")
    p.add_argument("--baseline", type=float, default=None, help="seconds of the idle baseline (default duration/4, 15..60)")
    p.add_argument("--max-requests", type=int, default=500, help="per shopper and phase (default 500)")
    p.add_argument("--catalog", default=None, help="fashion (default when present) or demo")
    p.add_argument("--index-dir", default=None, help="ASSISTANT_INDEX_DIR for the app (default: the repo's indexes/)")
    p.add_argument("--timeout", type=float, default=None, help="per-request limit (default: settings.request_timeout_seconds)")
    p.add_argument("--think", type=float, nargs=2, default=(2.0, 8.0), metavar=("MIN", "MAX"),
                   help="seconds a shopper reads the answer before the next request (default 2 8; "
                        "0.5 2 is a stress run: ~3x the requests per shopper)")
    p.add_argument("--mix", default="text=5,refine=3,photo=1.5,voice=0.5", help="request weights")
    p.add_argument("--photo-wait", type=float, default=900, help="max seconds to wait for the photo index")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the report here")
    args = p.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from assistant.config import get_settings

    settings = get_settings()
    catalog = args.catalog or ("fashion" if (FASHION / "styles.csv").exists() else "demo")
    timeout_s = args.timeout or settings.request_timeout_seconds
    baseline_s = args.baseline or min(60.0, max(15.0, args.duration / 4))
    mix = {k: float(v) for k, v in (kv.split("=") for kv in args.mix.split(","))}

    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        files = make_files(catalog, Path(tmp))
        print(f"starting the app (catalog {catalog}) ...", file=sys.stderr)
        t0 = time.monotonic()
        app = App(catalog, args.index_dir, str(Path(tmp) / "history.sqlite3"))
        try:
            print(f"app up at {app.url} in {time.monotonic() - t0:.0f} s", file=sys.stderr)
            files["photo"] = files["photo"] if wait_photo_ready(app, catalog, files["photo"], args.photo_wait,
                                                                random.Random(args.seed)) else None
            if files["voice"]:  # load Whisper before measuring (first use loads the model)
                HttpShopper(app.url, catalog, 300, random.Random(args.seed)).voice(files["voice"])
            HttpShopper(app.url, catalog, 120, random.Random(args.seed)).text()
            rss_start = rss_mb(app.proc.pid)
            peak = [rss_start]
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.wait(1.0):
                    peak.append(rss_mb(app.proc.pid))

            threading.Thread(target=sample, daemon=True).start()
            print(f"baseline: 1 shopper, text only, {baseline_s:.0f} s", file=sys.stderr)
            idle = run_phase(app.url, catalog, 1, baseline_s, args.max_requests, {"text": 1.0}, files,
                             timeout_s, tuple(args.think), args.seed)
            print(f"load: {args.shoppers} shoppers, {args.duration:.0f} s, mix {mix}, photo "
                  f"{'on' if files['photo'] else 'off'}, voice {'on' if files['voice'] else 'off'}", file=sys.stderr)
            load = run_phase(app.url, catalog, args.shoppers, args.duration, args.max_requests, mix, files,
                             timeout_s, tuple(args.think), args.seed + 1000)
            sampling.set()
            rss_end = rss_mb(app.proc.pid)
        finally:
            app.stop()
    idle_p95, load_p95 = percentile(idle.pop("_text"), 95), percentile(load.pop("_text"), 95)
    idle_total, load_total = percentile(idle.pop("_text_total"), 95), percentile(load.pop("_text_total"), 95)
    during = peak[-int(args.duration):] or peak  # 1 s samples; the load phase is the tail
    quarters = [round(during[min(len(during) - 1, int(q * len(during)))], 1) for q in (0, 0.25, 0.5, 0.75)]
    report = {
        "command": "bench/load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "catalog": catalog, "queue_concurrency": settings.queue_concurrency, "request_timeout_s": timeout_s,
        "think_s": list(args.think), "photo": bool(files["photo"]), "voice": bool(files["voice"]),
        "cpus": os.cpu_count(), "idle": idle, "load": load,
        "text_p95_idle_s": round(idle_p95, 3), "text_p95_load_s": round(load_p95, 3),
        "text_p95_ratio": round(load_p95 / idle_p95, 2) if idle_p95 else None,
        "text_with_for_you_p95_idle_s": round(idle_total, 3), "text_with_for_you_p95_load_s": round(load_total, 3),
        "text_with_for_you_p95_ratio": round(load_total / idle_total, 2) if idle_total else None,
        "rss_mb": {"start": round(rss_start, 1), "end": round(rss_end, 1), "peak": round(max(peak), 1),
                   "load_quarters": quarters + [round(rss_end, 1)]},
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if load["errors"] == 0 and idle["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
