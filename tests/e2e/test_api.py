"""The HTTP JSON API (issue 17, "reachable from the store's site") over real HTTP.

One real server (`python -m assistant serve`, the same process that serves the Gradio UI) for the
whole module, on a free loopback port, serving a small slice of the fashion catalog with photos
(so photo search runs end to end) next to the built-in demo catalog. Answers are compared with
the same calls made in this process through `Assistant`, so the API is shown to be the same
search, not just a well-formed one; every bad input must come back as `{"error": message}` with
a 4xx status and no traceback.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.recs.history import HistoryStore
from assistant.recs.recommend import Recommender
from tests.conftest import ROOT, fashion_available, fashion_photo_rows
from tests.e2e.test_browser import ARTIFACTS, _serve

TYPES = ("Watches", "Heels", "Tshirts", "Handbags", "Sunglasses", "Backpacks")
PER_TYPE = 6


@dataclass
class Api:
    url: str                 # http://127.0.0.1:<port>
    shop: str | None         # the photo catalog's name in the server (None without the fashion data)
    photo: Path | None       # one of its watch photos
    history_db: Path


@pytest.fixture(scope="module")
def api(tmp_path_factory, index_dir, settings, demo):
    tmp = tmp_path_factory.mktemp("api")
    history = tmp / "history.sqlite3"
    shop = photo = None
    catalog = "demo"
    if fashion_available(settings):
        rows = fashion_photo_rows(Path(settings.catalogs["fashion"].path), TYPES, PER_TYPE)
        path = tmp / "apishop.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        catalog, shop = str(path), "apishop"
        photo = Path(next(r["image"] for r in rows if r["category"][-1] == "Watches"))
    server = _serve(catalog, index_dir, ARTIFACTS / "api-server.log")
    with pytest.MonkeyPatch.context() as mp:  # the server's history lives in this module's temp folder
        mp.setenv("ASSISTANT_HISTORY_DB", str(history))
        url = next(server)
    try:
        yield Api(url.rstrip("/"), shop, photo, history)
    finally:
        server.close()


# --- HTTP helpers --------------------------------------------------------------------------------

def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get(api: Api, path: str, **params):
    query = urllib.parse.urlencode(params, doseq=True)
    status, headers, body = request("GET", f"{api.url}{path}" + (f"?{query}" if query else ""))
    return status, (json.loads(body) if "json" in headers.get("content-type", "") else body)


def post_photo(api: Api, content: bytes, filename: str = "photo.jpg", text: str | None = None, **params):
    boundary = uuid.uuid4().hex
    parts = []
    if text is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\n{text}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{filename}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    query = urllib.parse.urlencode(params, doseq=True)
    status, headers, raw = request("POST", f"{api.url}/api/v1/photo-search" + (f"?{query}" if query else ""),
                                   body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    return status, (json.loads(raw) if "json" in headers.get("content-type", "") else raw)


def ids(data: dict) -> list[str]:
    return [r["product"]["id"] for r in data["results"]]


# --- every endpoint ------------------------------------------------------------------------------

def test_catalogs(api, demo, settings):
    status, data = get(api, "/api/v1/catalogs")
    assert status == 200
    by_name = {c["name"]: c for c in data["catalogs"]}
    assert by_name["demo"]["indexed"] and by_name["demo"]["products"] == len(demo.products)
    assert sum(c["default"] for c in data["catalogs"]) == 1
    if api.shop:
        assert by_name[api.shop]["default"] and by_name[api.shop]["indexed"]
    assert settings.catalogs["demo"].path not in json.dumps(data)  # names, never server paths


def test_search_is_the_assistants_search_with_filters(api, assistant):
    status, data = get(api, "/api/v1/search", q="sofa", catalog="demo", k=5, price_max=900, color="GREY")
    assert status == 200, data
    from assistant.retrieval.search import Filters

    local = assistant.search("sofa", catalog="demo", k=5, filters=Filters(price_max=900, colors=["grey"]))
    assert ids(data) == [r.product.id for r in local.results] and ids(data)
    assert data["filters"] == ["under $900", "grey"]  # "GREY" is the catalog's own "grey"
    assert data["total"] == local.total and data["mode"] == "smart" and data["catalog"] == "demo"
    for r in data["results"]:
        assert r["product"]["price"] <= 900 and "grey" in r["product"]["colors"] and r["why"]
        assert {"keyword_rank", "dense_rank", "matched_words"} <= r["signals"].keys()


@pytest.mark.parametrize("mode", ["keyword", "dense", "hybrid"])
def test_search_modes(api, assistant, mode):
    status, data = get(api, "/api/v1/search", q="grey armless sofa", catalog="demo", mode=mode, k=3)
    assert status == 200, data
    local = assistant.search("grey armless sofa", catalog="demo", k=3, mode=mode)
    assert data["mode"] == mode and ids(data) == [r.product.id for r in local.results]


def test_product_by_id(api, demo):
    p = demo.products[0]
    status, data = get(api, f"/api/v1/products/{p.id}", catalog="demo")
    assert status == 200
    assert (data["id"], data["title"], data["price"], data["category"]) == (p.id, p.title, p.price, p.category)
    assert data["description"] == p.description and data["attributes"] == p.attributes


def test_similar_products(api, demo):
    source = demo.products[0]
    status, data = get(api, f"/api/v1/products/{source.id}/similar", catalog="demo", k=5)
    assert status == 200, data
    assert ids(data) == [r.product.id for r in demo.similar(source.id, k=5).results]
    assert len(data["results"]) == 5 and source.id not in ids(data) and data["mode"] == "similar"


def test_recommendations_for_an_anonymous_shopper(api, demo):
    shopper = str(uuid.uuid4())
    store = HistoryStore(api.history_db)
    sofas = [p.id for p in demo.products if p.leaf_category == "Sofas"][:2]
    for pid in sofas:
        store.record(shopper, "view", "demo", pid)
    status, data = get(api, "/api/v1/recommendations", shopper=shopper.upper(), catalog="demo", k=5)
    assert status == 200, data
    assert data["shopper"] == shopper  # canonical form of the id
    local = Recommender(demo, "demo", store).recommend(shopper, k=5)
    assert ids(data) == [r.product.id for r in local] and len(ids(data)) == 5
    assert any("viewed" in r["why"] for r in data["results"])  # explained by this shopper's history
    store.close()


def test_photo_search_upload(api):
    if api.shop is None:
        pytest.skip("needs the shared fashion data (a catalog with product photos)")
    deadline = time.monotonic() + 300
    while True:  # the server builds the photo index in the background after it starts
        status, data = post_photo(api, api.photo.read_bytes(), k=5)
        if status != 503 or time.monotonic() > deadline:
            break
        assert "being prepared" in data["error"]
        time.sleep(2)
    assert status == 200, data
    assert data["mode"] == "photo" and data["catalog"] == api.shop
    assert data["recognised"]["category"][0]["value"] == "Watches"
    assert sum(r["product"]["category"][-1] == "Watches" for r in data["results"]) >= 4
    # the photo URL is this server's opaque route, it serves the picture, and no path leaks
    url = data["results"][0]["product"]["image_url"]
    assert url.startswith("/product-image/") and str(api.photo.parent) not in json.dumps(data)
    status, headers, body = request("GET", api.url + url)
    assert status == 200 and headers["content-type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
    # words refine it, as in the chat ("like this but ...")
    status, data = post_photo(api, api.photo.read_bytes(), text="in black", k=5)
    assert status == 200 and data["query"] == "in black"


def test_docs_and_schema_answer_and_the_ui_still_serves(api):
    status, schema = get(api, "/api/openapi.json")
    assert status == 200
    assert {"/v1/search", "/v1/products/{product_id}", "/v1/products/{product_id}/similar",
            "/v1/recommendations", "/v1/photo-search", "/v1/catalogs"} <= schema["paths"].keys()
    assert schema["servers"] == [{"url": "/api"}]  # "Try it out" calls /api/v1/..., not Gradio
    status, html = get(api, "/api/docs")
    assert status == 200 and b"swagger" in html.lower() and b"/api/openapi.json" in html
    # Swagger UI comes from this server (the machine is offline), not from a CDN
    scripts = re.findall(rb"""<script src=["']([^"']+)["']""", html)
    assert scripts and all(s.startswith(b"/api/") for s in scripts), scripts
    for src in scripts:
        status, headers, body = request("GET", api.url + src.decode())
        assert status == 200 and "javascript" in headers["content-type"] and b"SwaggerUIBundle" in body
    status, headers, _ = request("GET", api.url + "/")
    assert status == 200 and "text/html" in headers["content-type"]  # Gradio, mounted alongside


def test_concurrent_requests_are_all_answered(api):
    results: list[int] = []

    def one(q: str) -> None:
        results.append(get(api, "/api/v1/search", q=q, catalog="demo")[0])

    threads = [threading.Thread(target=one, args=(q,)) for q in ("sofa", "lamp", "rug", "mug", "chair", "desk")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert results == [200] * 6


def test_listens_on_loopback_only(api):
    """The default host stays 127.0.0.1: the listening socket in /proc/net/tcp is 127.0.0.1:<port>."""
    port = int(api.url.rsplit(":", 1)[1])
    listening = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port]
    assert listening == [f"0100007F:{port:04X}"]


# --- every bad input: one human message, a 4xx status, no traceback -------------------------------

DEMO_FILE = str(ROOT / "catalog" / "demo" / "products.jsonl")
BAD = [
    ("/api/v1/search", {"q": "sofa", "catalog": "nope"}, 404, "Unknown catalog 'nope'"),
    ("/api/v1/search", {"q": "sofa", "catalog": DEMO_FILE}, 404, "Unknown catalog"),  # a name, never a path
    ("/api/v1/search", {"q": "", "catalog": "demo"}, 400, "Please type what you are looking for"),
    ("/api/v1/search", {"q": "   ", "catalog": "demo"}, 400, "Please type what you are looking for"),
    ("/api/v1/search", {"catalog": "demo"}, 400, "Please type what you are looking for"),
    ("/api/v1/search", {"q": "sofa " * 500, "catalog": "demo"}, 400, "please keep it under 2,000"),
    ("/api/v1/search", {"q": "sofa", "catalog": "demo", "k": 0}, 400, "k must be between 1 and 100"),
    ("/api/v1/search", {"q": "sofa", "catalog": "demo", "k": 101}, 400, "k must be between 1 and 100"),
    ("/api/v1/search", {"q": "sofa", "catalog": "demo", "k": "ten"}, 422, "Invalid request: k:"),
    ("/api/v1/search", {"q": "sofa", "catalog": "demo", "mode": "magic"}, 422, "Invalid request: mode:"),
    ("/api/v1/search", {"q": "sofa", "catalog": "demo", "price_max": -1}, 400,
     "The highest price must be a number of 0 or more"),
    ("/api/v1/search", {"q": "sofa", "catalog": "demo", "price_max": "nan"}, 400,
     "The highest price must be a number of 0 or more"),
    ("/api/v1/search", {"q": "sofa", "catalog": "demo", "price_min": 500, "price_max": 100}, 400,
     "The lowest price ($500) is above the highest ($100)"),
    ("/api/v1/search", {"q": "sofa over 500 under 100", "catalog": "demo"}, 400,
     "The lowest price ($500) is above the highest ($100)"),
    ("/api/v1/products/nope", {"catalog": "demo"}, 404, "No product with id 'nope' in the 'demo' catalog"),
    ("/api/v1/products/demo-0001", {"catalog": "nope"}, 404, "Unknown catalog 'nope'"),
    ("/api/v1/products/nope/similar", {"catalog": "demo"}, 404, "No product with id 'nope'"),
    ("/api/v1/products/demo-0001/similar", {"catalog": "demo", "k": 0}, 400, "k must be between 1 and 100"),
    ("/api/v1/products/demo-0001/similar", {"catalog": "demo", "price_max": -1}, 400, "The highest price"),
    ("/api/v1/recommendations", {"shopper": "alice@example.com", "catalog": "demo"}, 400,
     "A shopper id must be an anonymous id"),
    ("/api/v1/recommendations", {"catalog": "demo"}, 422, "Invalid request: shopper: Field required"),
    ("/api/v1/recommendations", {"shopper": str(uuid.uuid4()), "catalog": "demo", "k": 1000}, 400,
     "k must be between 1 and 100"),
    ("/api/v1/nothing-here", {}, 404, "Not Found"),
]


@pytest.mark.parametrize("path, params, status, message", BAD,
                         ids=[f"{p.rsplit('/', 1)[-1]}-{m[:24]}" for p, _, _, m in BAD])
def test_bad_input_is_one_message(api, path, params, status, message):
    got, data = get(api, path, **params)
    assert got == status, data
    assert isinstance(data, dict) and set(data) == {"error"}, data
    assert message in data["error"] and "Traceback" not in data["error"]


@pytest.mark.parametrize("content, extra, status, message", [
    (b"this is not a picture", {}, 400, "isn't a picture I can read"),
    (b"", {}, 400, "empty"),
    (None, {"k": 0}, 400, "k must be between 1 and 100"),
    (None, {"price_min": 9, "price_max": 1}, 400, "is above the highest"),
    (None, {"catalog": "nope"}, 404, "Unknown catalog 'nope'"),
    (None, {"catalog": "demo"}, 400, "has no product photos"),
])
def test_bad_photo_upload_is_one_message(api, content, extra, status, message):
    if content is None:  # a good picture with a bad parameter
        from PIL import Image
        import io

        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, "PNG")
        content = buf.getvalue()
    got, data = post_photo(api, content, **extra)
    assert got == status, data
    assert set(data) == {"error"} and message in data["error"], data


def test_oversized_upload_is_refused(api, settings):
    """Just over the photo limit (inside the body cap's allowance for the form around it): the
    bounded read refuses it with 413 and the same message as the UI's limit."""
    limit = settings.max_image_bytes
    got, data = post_photo(api, b"\xff\xd8" + b"\0" * (limit - 1))
    assert got == 413 and data == {"error": "That photo is over 20 MB; please send one under 20 MB."}


def test_far_oversized_upload_is_refused_before_it_is_sent(api, settings):
    """Far over the cap, announced by Content-Length with `Expect: 100-continue` (as curl sends
    for large bodies): the server answers 413 at once and never asks for the body."""
    import socket

    host, port = api.url.rsplit("/", 1)[1].split(":")
    length = settings.max_image_bytes * 10
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall((f"POST /api/v1/photo-search HTTP/1.1\r\nHost: {host}\r\n"
                      f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {length}\r\n"
                      "Expect: 100-continue\r\nConnection: close\r\n\r\n").encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"100 Continue" not in reply, reply[:300]
    assert json.loads(body) == {"error": "That photo is over 20 MB; please send one under 20 MB."}


def test_oversized_streamed_upload_is_cut_off(api, settings):
    """Without a Content-Length (chunked), the server counts what arrives and stops at the cap:
    a client streaming 200 MB gets 413 (or the connection cut), never a search."""
    import http.client

    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="big.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode()

    def body():
        yield head
        for _ in range(200):
            yield b"\0" * 1_000_000

    host, port = api.url.rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        conn.request("POST", "/api/v1/photo-search", body=body(), encode_chunked=True,
                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = conn.getresponse()
        assert response.status == 413 and "over 20 MB" in json.loads(response.read())["error"]
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered 413 and closed while we were still sending: cut off
    finally:
        conn.close()
    assert get(api, "/api/v1/catalogs")[0] == 200  # and it keeps serving


def test_docs_page_renders_the_endpoints_offline(api):
    """The docs page, opened in Chromium with every request outside this server blocked (the
    machine is offline), lists the API's operations: Swagger UI comes from this server."""
    from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser

    _require_browser()
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def only_this_server(route):
        if route.request.url.startswith(api.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_this_server)
            page.goto(api.url + "/api/docs")
            page.locator(".opblock-summary-path", has_text="/v1/search").first.wait_for(timeout=60_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert {"/v1/search", "/v1/photo-search", "/v1/recommendations", "/v1/catalogs"} <= {x.strip() for x in paths}
    assert not [u for u in outside if not u.startswith("data:")], outside
