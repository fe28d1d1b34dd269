"""Regenerate README's screenshots: the app answering a query, on a desktop (1366x900) and a
phone (390x844), in headless Debian chromium.

    python scripts/screenshots.py                       # the default catalog (fashion when present)
    python scripts/screenshots.py --catalog demo --query "grey sofa under 800"
    python scripts/screenshots.py --url http://127.0.0.1:7860/   # an app already running

Starts `python -m assistant serve` on a free port unless --url is given (set ASSISTANT_INDEX_DIR
to reuse built indexes), then writes docs/screenshot.png and docs/screenshot-phone.png: what a
shopper sees on the first screen after the query, and the product detail of the first card."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
VIEWPORTS = {"screenshot.png": ({"width": 1366, "height": 900}, {}),
             "screenshot-phone.png": ({"width": 390, "height": 844}, {"is_mobile": True, "has_touch": True})}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(catalog: str | None, startup_s: float = 600) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "assistant", "serve", "--port", str(port)] + (["--catalog", catalog] if catalog else [])
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the app exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return proc, url
        except OSError:
            time.sleep(1)
    proc.terminate()
    sys.exit(f"the app did not start within {startup_s:.0f} s")


def capture(url: str, query: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for name, (viewport, options) in VIEWPORTS.items():
                context = browser.new_context(viewport=viewport, device_scale_factor=1, **options)
                context.set_default_timeout(120_000)
                page = context.new_page()
                page.goto(url, wait_until="domcontentloaded")
                box = page.locator("#message textarea")
                box.fill(query)
                box.press("Enter")
                page.locator("#cards .card").first.wait_for()
                page.wait_for_timeout(1500)  # photos, and the phone's scroll to the results
                page.screenshot(path=str(out / name))
                written.append(out / name)
                page.locator("#cards .card").first.click()
                page.locator("#detail .detail").wait_for()
                page.wait_for_timeout(800)
                detail = out / name.replace(".png", "-detail.png")
                page.screenshot(path=str(detail))
                written.append(detail)
                context.close()
        finally:
            browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an app already running (default: start one)")
    parser.add_argument("--catalog", help="catalog to serve (default: the app's default)")
    parser.add_argument("--query", default=None, help="what to search (default suits the catalog)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs (default docs/)")
    args = parser.parse_args()
    fashion = (ROOT.parent / "shared" / "data" / "fashion" / "styles.csv").exists()
    query = args.query or ("women's black heels" if (args.catalog or ("fashion" if fashion else "demo")) == "fashion"
                           else "grey sofa under 800")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    proc, url = (None, args.url) if args.url else start(args.catalog)
    try:
        for path in capture(url, query, out):
            print(path)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
