"""A store's own export must never make the assistant touch anything outside its index root
(issue 17, defect 1) or replace another catalog's index (defect 4). Real CLI process, real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import CatalogError
from assistant.retrieval.index import index_folder, swap_in
from tests.shells.test_cli import run_cli

EXPORT = "id,title,price,category\n1,Blue ceramic mug,12,Kitchen > Mugs\n2,Red enamel kettle,45,Kitchen > Kettles\n"


@pytest.mark.parametrize("file_name", ["...csv", "..csv", ".csv", "a b&c?.csv"])
def test_odd_file_name_never_deletes_outside_the_index_root(tmp_path, file_name):
    """`...csv` has the stem "..": it used to rmtree the index root's parent."""
    root = tmp_path / "s" / "a"
    idx = root / "idx"
    (idx / "other").mkdir(parents=True)
    canaries = [root / "canary", idx / "other" / "canary"]
    for c in canaries:
        c.write_text("x")
    export = tmp_path / "c" / file_name
    export.parent.mkdir()
    export.write_text(EXPORT)
    proc = run_cli("search", "kettle", "--catalog", str(export), "--json", index_dir=idx)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["id"] == "2"
    assert all(c.read_text() == "x" for c in canaries)
    built = [p for p in idx.iterdir() if (p / "manifest.json").exists()]
    assert len(built) == 1 and built[0].parent == idx


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "../x", "/etc", "x/../../y", ".hidden"])
def test_index_folder_refuses_names_that_leave_the_root(tmp_path, name):
    with pytest.raises(CatalogError, match="not allowed"):
        index_folder(name, Settings(index_dir=tmp_path))


def test_same_stem_does_not_replace_another_catalog(tmp_path):
    """`fashion.csv` used to take the built-in fashion index's name; prices.csv and prices.jsonl
    rebuilt over each other."""
    settings = Settings(index_dir=tmp_path / "idx")
    (tmp_path / "fashion.csv").write_text(EXPORT)
    (tmp_path / "prices.csv").write_text(EXPORT)
    (tmp_path / "prices.jsonl").write_text('{"id": "1", "title": "Mug"}\n')
    names = [settings.resolve_catalog(str(tmp_path / f)) for f in ("fashion.csv", "prices.csv", "prices.jsonl")]
    assert names[0] != "fashion" and Path(settings.catalogs["fashion"].path).name == "fashion"
    assert len(set(names)) == 3
    # the same file keeps its name (its index is reused), in this process and the next
    assert settings.resolve_catalog(str(tmp_path / "prices.jsonl")) == names[2]
    assert Settings(index_dir=tmp_path / "idx").resolve_catalog(str(tmp_path / "prices.csv")) == names[1]


def test_swap_keeps_an_index_until_the_new_one_is_in(tmp_path):
    final, tmp = tmp_path / "demo", tmp_path / ".demo.building"
    final.mkdir()
    (final / "manifest.json").write_text("old")
    tmp.mkdir()
    (tmp / "manifest.json").write_text("new")
    swap_in(tmp, final)
    assert (final / "manifest.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_served_catalog_exposes_only_its_product_photos(tmp_path):
    """Defect 2: serving a CSV catalog used to put its whole folder in Gradio's allowed paths, so
    a secret beside the export (or the export itself) was downloadable. Real server, real HTTP."""
    import re
    import urllib.error
    import urllib.request

    from PIL import Image

    from tests.e2e.test_browser import _serve

    shop = tmp_path / "shop"
    (shop / "sub").mkdir(parents=True)
    Image.new("RGB", (32, 32), "red").save(shop / "kettle.png")
    (shop / "secret.txt").write_text("SECRET")
    (shop / "sub" / ".env").write_text("KEY=1")
    (shop / "notes.txt").write_text("not a photo")
    export = shop / "store.csv"
    export.write_text(f"id,title,price,category,image\n1,Red kettle,45,Kitchen > Kettles,{shop / 'kettle.png'}\n"
                      f"2,Blue kettle,40,Kitchen > Kettles,{shop / 'notes.txt'}\n")

    def get(url: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, b""

    for url in _serve(str(export), tmp_path / "idx", tmp_path / "server.log"):
        for path in ("secret.txt", "sub/.env", "store.csv", "kettle.png", "notes.txt"):
            status, body = get(f"{url}gradio_api/file={shop / path}")
            assert status in (403, 404) and b"SECRET" not in body, path
        from gradio_client import Client

        cards = Client(url, verbose=False).predict("kettle", [], None, api_name="/on_message")[2]
        srcs = re.findall(r"<img src='([^']+)'", cards)
        assert len(srcs) == 2 and str(shop) not in cards  # no server path on the page
        photo = [s for s in srcs if s.startswith("/product-image/")]
        assert len(photo) == 1  # the .txt "photo" gets the placeholder, not a URL
        status, body = get(url + photo[0].lstrip("/"))
        assert status == 200 and body == (shop / "kettle.png").read_bytes()
        assert get(url + "product-image/" + "0" * 32 + ".png")[0] == 404
