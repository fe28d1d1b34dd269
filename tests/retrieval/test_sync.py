"""Keeping a store's catalog up to date (issue 17, "Kept up to date" and defect 6): every file of an
index is checksummed, `assistant sync` applies a new export without a full rebuild (only new or
changed texts are embedded), atomically, and a running app picks the new version up without a
restart. Real model, real files, real CLI processes and a real served app."""

from __future__ import annotations

import csv
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.core import Assistant
from assistant.models.encoders import load_text_encoder
from assistant.retrieval.index import IndexProblem, build_index, check_index, index_folder
from assistant.retrieval.sync import sync_index
from tests.shells.test_cli import run_cli

FIELDS = ["id", "title", "price", "category", "color", "description"]
ROWS = [
    ["k1", "Red enamel kettle", "45", "Kitchen > Kettles", "Red", "Stovetop kettle, 2 litres"],
    ["k2", "Steel electric kettle", "39", "Kitchen > Kettles", "Silver", "Boils fast"],
    ["m1", "Blue ceramic mug", "12", "Kitchen > Mugs", "Blue", "Holds 300 ml"],
    ["m2", "White porcelain mug", "9", "Kitchen > Mugs", "White", "Dishwasher safe"],
    ["l1", "Brass desk lamp", "60", "Lighting > Lamps", "Gold", "Adjustable arm"],
    ["l2", "Paper floor lamp", "80", "Lighting > Lamps", "White", "Soft light"],
    ["s1", "Grey linen sofa", "900", "Furniture > Sofas", "Grey", "Three seats"],
    ["s2", "Green velvet sofa", "1200", "Furniture > Sofas", "Green", "Two seats"],
    ["c1", "Oak dining chair", "150", "Furniture > Chairs", "Brown", "Solid oak"],
    ["c2", "Black office chair", "220", "Furniture > Chairs", "Black", "With arms"],
    ["r1", "Wool area rug", "300", "Home > Rugs", "Beige", "8 x 10"],
    ["t1", "Cotton bath towel", "15", "Bath > Towels", "White", "Soft and thick"],
]


def write_export(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIELDS)
        writer.writerows(rows)
    return path


def v2_rows() -> list[list[str]]:
    """v1 with one row deleted (m2), one text change (k2), one price-only change (l1), two adds."""
    rows = [list(r) for r in ROWS if r[0] != "m2"]
    for r in rows:
        if r[0] == "k2":
            r[1] = "Glass electric kettle with blue light"
        if r[0] == "l1":
            r[2] = "55"
    rows.insert(3, ["k3", "Copper whistling kettle", "70", "Kitchen > Kettles", "Copper", "Classic whistle"])
    rows.append(["p1", "Terracotta plant pot", "20", "Garden > Pots", "Orange", "With saucer"])
    return rows


def make_settings(tmp_path: Path, export: Path) -> tuple[Settings, str]:
    settings = Settings(index_dir=tmp_path / "idx", history_db=tmp_path / "h.sqlite3")
    return settings, settings.register_path(str(export))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A tiny store export and its index, built once; tests copy the index folder."""
    root = tmp_path_factory.mktemp("store")
    export = write_export(root / "shop" / "store.csv", ROWS)
    settings, name = make_settings(root, export)
    build_index(name, settings, progress=False)
    return root


def copy_store(built: Path, tmp_path: Path) -> tuple[Settings, str, Path]:
    shutil.copytree(built / "shop", tmp_path / "shop")
    export = tmp_path / "shop" / "store.csv"
    settings, name = make_settings(tmp_path, export)
    shutil.copytree(built / "idx", settings.index_dir)
    check_index(name, settings)  # the copy is current: same bytes, same path layout
    return settings, name, export


def ids(response) -> list[str]:
    return [r.product.id for r in response.results]


# --- defect 6: every file of an index is checksummed ---------------------------------------------

def test_every_index_file_is_checksummed(built, tmp_path):
    settings, name, _ = copy_store(built, tmp_path)
    folder = index_folder(name, settings)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                   if p.is_file() and p.name != "manifest.json")
    assert any(f.startswith("keyword/") for f in files)
    assert sorted(check_index(name, settings)["checksums"]) == files


@pytest.mark.parametrize("damage", ["zero", "delete", "extra"])
def test_damaged_keyword_index_is_reported_and_rebuilt(built, tmp_path, damage):
    """Zeroed bm25s arrays used to load fine and give 0 keyword results while `catalogs` said
    "indexed": now each keyword file is in the manifest and any change makes the index corrupt."""
    settings, name, export = copy_store(built, tmp_path)
    keyword = index_folder(name, settings) / "keyword"
    arrays = sorted(keyword.glob("*.npy"))
    assert arrays
    for path in arrays:
        if damage == "zero":
            path.write_bytes(b"\x00" * path.stat().st_size)
        elif damage == "delete":
            path.unlink()
        else:
            (keyword / "stray.npy").write_bytes(path.read_bytes())
        break
    with pytest.raises(IndexProblem, match="corrupt|missing|unexpected"):
        check_index(name, settings)
    proc = run_cli("search", "kettle", "--catalog", str(export), "--mode", "keyword", "--json",
                   index_dir=settings.index_dir)
    assert proc.returncode == 0, proc.stderr
    assert "corrupt" in proc.stderr or "missing" in proc.stderr or "unexpected" in proc.stderr
    assert {r["id"] for r in json.loads(proc.stdout)["results"]} == {"k1", "k2"}
    assert check_index(name, settings)["count"] == len(ROWS)  # rebuilt, intact


# --- sync -----------------------------------------------------------------------------------------

class CountingEncoder:
    """The real encoder, counting the texts it is asked to embed (a spy, not a mock)."""

    def __init__(self, encoder) -> None:
        self.encoder, self.texts = encoder, []

    def __getattr__(self, attr):
        return getattr(self.encoder, attr)

    def encode_documents(self, texts, **kw):
        self.texts += list(texts)
        return self.encoder.encode_documents(texts, **kw)


def test_sync_applies_adds_changes_deletes_and_embeds_only_new_texts(built, tmp_path):
    settings, name, _ = copy_store(built, tmp_path)
    folder = index_folder(name, settings)
    old_vectors = np.load(folder / "vectors.npy")
    old_order = [json.loads(l)["id"] for l in (folder / "products.jsonl").read_text().splitlines()]
    new_export = write_export(tmp_path / "exports" / "store-v2.csv", v2_rows())
    spy = CountingEncoder(load_text_encoder(settings.text_model, settings.num_threads))

    result = sync_index(name, settings, new_export, encoder=spy, progress=False)

    assert (result.added, result.changed, result.deleted) == (2, 2, 1)
    assert result.unchanged == len(ROWS) - 3
    # the price-only change keeps its text, so only the 2 new products and the retitled one are embedded
    assert len(spy.texts) == result.embedded == 3
    assert any("Copper whistling kettle" in t for t in spy.texts)
    assert not any("Brass desk lamp" in t for t in spy.texts)
    manifest = check_index(name, settings)  # current and intact, though the configured file is v1
    assert manifest["source_path"] == str(new_export.resolve())
    assert manifest["sync"]["added"] == 2 and manifest["sync"]["deleted"] == 1
    vectors = np.load(folder / "vectors.npy")
    new_order = [r[0] for r in v2_rows()]
    for pid in ("k1", "s1", "l1", "t1"):  # unchanged rows: the very same bytes
        assert np.array_equal(vectors[new_order.index(pid)], old_vectors[old_order.index(pid)])

    # the synced index answers like a full build of the new export
    assistant = Assistant(settings, progress=False)
    other, other_name = make_settings(tmp_path / "full", new_export)
    full = Assistant(other, progress=False)
    for query in ("kettle", "mug", "lamp", "plant pot"):
        for mode in ("keyword", "dense", "smart"):
            assert ids(assistant.search(query, catalog=name, k=5, mode=mode)) == \
                ids(full.search(query, catalog=other_name, k=5, mode=mode)), (query, mode)
    assert ids(assistant.search("copper whistling kettle", catalog=name, k=1)) == ["k3"]
    assert "m2" not in ids(assistant.search("white porcelain mug", catalog=name, k=20))
    assert next(p for p in assistant.engine(name).products if p.id == "l1").price == 55


def test_next_start_uses_the_synced_export_without_rebuilding(built, tmp_path):
    """The manifest records the synced file: a new process given the old path keeps the index."""
    settings, name, export = copy_store(built, tmp_path)
    new_export = write_export(tmp_path / "exports" / "store-v2.csv", v2_rows())
    proc = run_cli("sync", "--catalog", name, str(new_export), index_dir=settings.index_dir)
    assert proc.returncode == 0, proc.stderr
    assert "2 added, 2 changed, 1 deleted" in proc.stderr
    version = check_index(name, settings)["version"]
    proc = run_cli("search", "copper kettle", "--catalog", str(export), "--json", index_dir=settings.index_dir)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["id"] == "k3"
    assert "building" not in proc.stderr
    assert check_index(name, settings)["version"] == version
    build_index(name, settings, progress=False)  # a full rebuild (build --force, damage) reads it too
    assert check_index(name, settings)["count"] == len(v2_rows())


def test_sync_reports_bad_rows_with_line_numbers(built, tmp_path):
    settings, name, _ = copy_store(built, tmp_path)
    rows = v2_rows()
    rows.insert(2, ["", "No id here", "5", "Kitchen > Mugs", "Red", ""])
    rows.insert(5, ["x9", "", "5", "Kitchen > Mugs", "Red", "no title"])
    new_export = write_export(tmp_path / "exports" / "v2.csv", rows)
    proc = run_cli("sync", "--catalog", name, str(new_export), index_dir=settings.index_dir)
    assert proc.returncode == 0, proc.stderr
    assert "line 4:" in proc.stderr and "line 7:" in proc.stderr
    assert check_index(name, settings)["count"] == len(v2_rows())


@pytest.mark.parametrize("bad", ["missing", "no-products", "directory-of-nothing"])
def test_sync_with_a_bad_file_leaves_the_old_index(built, tmp_path, bad):
    settings, name, _ = copy_store(built, tmp_path)
    folder = index_folder(name, settings)
    before = {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    if bad == "missing":
        path = tmp_path / "nope.csv"
    elif bad == "no-products":
        path = tmp_path / "empty.csv"
        path.write_text("id,title,price\n,,\n")
    else:
        path = tmp_path / "emptydir"
        path.mkdir()
    proc = run_cli("sync", "--catalog", name, str(path), index_dir=settings.index_dir)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr
    assert {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in settings.index_dir.iterdir() if not p.name.endswith(".lock")) == [name]


def test_sync_of_an_unknown_catalog_exits_2(tmp_path):
    export = write_export(tmp_path / "x.csv", ROWS)
    proc = run_cli("sync", "--catalog", "nosuchshop", str(export), index_dir=tmp_path / "idx")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "nosuchshop" in proc.stderr
    assert not (tmp_path / "idx" / "nosuchshop").exists()


# --- a running app picks the new version up ------------------------------------------------------

def test_assistant_swaps_in_the_new_version_and_old_engine_keeps_working(built, tmp_path):
    """In one process: the loaded engine is replaced in the background after a sync; a search that
    still holds the old engine object answers from the old version; "more like" a product the sync
    deleted gets a shopper message instead of a KeyError."""
    from assistant.chat.dialog import Conversation
    from assistant.errors import ShopperError

    settings, name, _ = copy_store(built, tmp_path)
    settings.index_watch_seconds = 0.2
    assistant = Assistant(settings, progress=False)
    old = assistant.engine(name)
    chat = Conversation(assistant, catalog=name)
    shown = chat.handle("white porcelain mug")
    assert shown.response.results[0].product.id == "m2"
    sync_index(name, settings, write_export(tmp_path / "v2.csv", v2_rows()), progress=False)
    deadline = time.monotonic() + 60
    while assistant.engine(name) is old and time.monotonic() < deadline:
        time.sleep(0.2)
    new = assistant.engine(name)
    assert new is not old and new.index.manifest["sync"]["added"] == 2
    assert "m2" in {p.id for p in old.products} and "m2" not in {p.id for p in new.products}
    assert ids(old.search("copper whistling kettle", k=3)) != ids(new.search("copper whistling kettle", k=3))
    assert ids(new.search("copper whistling kettle", k=1)) == ["k3"]
    with pytest.raises(ShopperError, match="no longer in the catalog"):  # the shells show it
        chat.handle("more like the first one")
    # a second sync (back to the first export) is picked up too, and the catalog follows it again
    result = sync_index(name, settings, settings.catalogs[name].path, progress=False)
    assert (result.added, result.deleted, result.embedded) == (1, 2, 2)
    deadline = time.monotonic() + 60
    while assistant.engine(name) is new and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ids(assistant.search("white porcelain mug", catalog=name, k=1)) == ["m2"]
    assert check_index(name, settings)["source_path"] == settings.catalogs[name].path


def test_running_app_picks_up_a_sync_without_restart(built, tmp_path):
    """A real `assistant serve`; `assistant sync` in another process; answers change (new product
    in, deleted one out) without a restart, and searches during the sync keep answering."""
    from gradio_client import Client

    from tests.e2e.test_browser import _serve

    settings, name, export = copy_store(built, tmp_path)
    new_export = write_export(tmp_path / "exports" / "store-v2.csv", v2_rows())
    old_kettles = {"Red enamel kettle", "Steel electric kettle"}
    new_kettles = {"Red enamel kettle", "Glass electric kettle with blue light", "Copper whistling kettle"}

    def kettles(client) -> set[str]:
        cards = client.predict("kettle", [], None, api_name="/on_message")[2]
        return {t for t in old_kettles | new_kettles if t in cards}

    for url in _serve(str(export), settings.index_dir, tmp_path / "server.log"):
        client = Client(url, verbose=False)
        assert kettles(client) == old_kettles
        seen, errors, stop = [], [], threading.Event()

        def hammer() -> None:
            own = Client(url, verbose=False)
            while not stop.is_set():
                try:
                    seen.append(kettles(own))
                except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                    errors.append(repr(exc))

        thread = threading.Thread(target=hammer, daemon=True)
        thread.start()
        proc = run_cli("sync", "--catalog", name, str(new_export), index_dir=settings.index_dir)
        assert proc.returncode == 0, proc.stderr
        deadline = time.monotonic() + 60
        while kettles(client) != new_kettles and time.monotonic() < deadline:
            time.sleep(0.5)
        stop.set()
        thread.join(timeout=60)
        assert kettles(client) == new_kettles
        assert not errors, errors[:3]
        assert len(seen) >= 3 and all(s in (old_kettles, new_kettles) for s in seen), seen
        mugs = client.predict("white porcelain mug", [], None, api_name="/on_message")[2]
        assert "White porcelain mug" not in mugs and "Blue ceramic mug" in mugs
        log = (tmp_path / "server.log").read_text()
        assert "Traceback" not in log and f"catalog '{name}' yet: building it now" not in log
