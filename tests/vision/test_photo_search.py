"""Photo search end to end on real catalog photos: index lifecycle, recognition, text override,
the CLI, the eval command and the Gradio handler.

To stay fast it uses a 240-photo slice of the fashion catalog (8 article types) written as a store
export; the full-catalog numbers come from `assistant eval-photos` (docs/photos.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from assistant.config import settings_from_env
from assistant.core import Assistant
from assistant.errors import ShopperError
from assistant.retrieval.index import IndexProblem
from assistant.vision.photo_index import check_photo_index, ensure_photo_index, held_out, photo_dir
from assistant.vision.images import COLOUR_DIM, COLOUR_VERSION, HSV_STATS, LAB_HIST_DIM, colour_features
from evaluation.photo_eval import run_photo_eval
from assistant.retrieval.search import Result, SearchResponse
from tests.conftest import fashion_available, fashion_photo_rows
from tests.shells.test_cli import run_cli

TYPES = ("Tshirts", "Heels", "Watches", "Handbags", "Casual Shoes", "Sunglasses", "Jeans", "Backpacks")
PER_TYPE = 30


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """(assistant, catalog name, catalog path, products by id) for a small photo catalog."""
    base = settings_from_env()
    folder = Path(base.catalogs["fashion"].path)
    if not fashion_available(base):
        pytest.skip("fashion photos not available")
    rows = fashion_photo_rows(folder, TYPES, PER_TYPE)
    tmp = tmp_path_factory.mktemp("photoshop")
    path = tmp / "photoshop.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    settings = settings_from_env(index_dir=tmp / "indexes")
    assistant = Assistant(settings, progress=False)
    name = settings.register_path(str(path))
    assistant.photo_search(name)  # builds text + photo indexes once
    return assistant, name, path, {r["id"]: r for r in rows}


def _photo(shop, article_type: str) -> dict:
    """A catalog photo of that type from the probes' training part: these tests check the wiring;
    recognition of unseen photos is measured on the full catalog by `eval-photos`."""
    return next(r for r in shop[3].values() if not held_out(r["id"]) and r["category"][-1] == article_type)


@pytest.mark.parametrize("article_type", ["Heels", "Watches", "Tshirts", "Sunglasses"])
def test_photo_finds_the_same_kind_of_item(shop, article_type):
    assistant, name, _, _ = shop
    query = _photo(shop, article_type)
    response = assistant.search_image(query["image"], catalog=name, k=10)
    assert isinstance(response, SearchResponse) and response.mode == "photo"
    assert all(isinstance(r, Result) for r in response.results) and len(response.results) == 10
    assert response.recognised["category"][0][0] == article_type
    same = sum(r.product.leaf_category == article_type for r in response.results)
    assert same >= 9, [r.product.title for r in response.results]
    top = response.results[0]
    assert top.product.id == query["id"]  # it is in the catalog: the photo finds itself first
    assert "your photo" in top.why and f"looks like: " in top.why
    assert top.to_dict()["why"] == top.why


def test_recognised_attributes_are_returned_with_probabilities(shop):
    assistant, name, _, _ = shop
    response = assistant.search_image(_photo(shop, "Heels")["image"], catalog=name)
    assert {"category", "color", "gender"} <= response.recognised.keys()
    for values in response.recognised.values():
        probs = [p for _, p in values]
        assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1
    assert response.preferences.categories == ["Heels"]


def test_text_overrides_the_recognised_colour(shop):
    assistant, name, _, products = shop
    query = next(r for r in products.values() if r["category"][-1] == "Tshirts" and r["colors"] != ["Blue"]
                 and not held_out(r["id"]))
    response = assistant.search_image(query["image"], text="like this but in blue", catalog=name, k=3)
    assert response.preferences.colors == ["Blue"]
    assert response.preferences.categories == ["Tshirts"]
    assert all(r.product.colors == ["Blue"] and r.product.leaf_category == "Tshirts"
               for r in response.results), [r.product.title for r in response.results]


def test_removed_attribute_is_no_longer_preferred(shop):
    assistant, name, _, _ = shop
    path = _photo(shop, "Heels")["image"]
    seen = assistant.understand_image(path, catalog=name)
    colour = seen.best("color")[0]
    response = assistant.search_image(seen, catalog=name, drop=[colour])
    assert colour not in response.preferences.colors


def test_demo_catalog_has_no_photo_search(assistant, demo):
    with pytest.raises(ShopperError, match="no product photos"):
        assistant.search_image(Path(__file__).resolve().parents[2] / "docs" / "screenshot.png", catalog="demo")


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"hello", "isn't a picture")])
def test_bad_photo_is_a_shopper_error(shop, tmp_path, content, message):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(ShopperError, match=message):
        shop[0].search_image(path, catalog=shop[1])


def test_photo_index_lifecycle(shop):
    """Manifest with checksums; corrupt -> rebuilt from cached vectors; model change -> stale."""
    assistant, name, _, _ = shop
    settings = assistant.settings
    index = assistant.engine(name).index
    manifest = check_photo_index(index, settings)
    assert manifest["count"] == len(index.products) and manifest["held_out_photos"] > 0
    assert set(manifest["checksums"]) >= {"vectors.npy", "probe.npz"}
    assert manifest["held_out_accuracy"]["category"] > 0.5

    probe = photo_dir(name, settings) / "probe.npz"
    probe.write_bytes(probe.read_bytes()[:-10])
    with pytest.raises(IndexProblem, match="corrupt"):
        check_photo_index(index, settings)
    rebuilt = ensure_photo_index(index, settings, progress=False)
    assert rebuilt.manifest["reused_vectors"] == rebuilt.manifest["count"]  # nothing re-embedded
    check_photo_index(index, settings)

    other = settings.model_copy(update={"image_weights": "/elsewhere/other.pth"})
    with pytest.raises(IndexProblem, match="stale"):
        check_photo_index(index, other)


def test_cli_search_with_a_photo(shop):
    assistant, name, path, _ = shop
    photo = _photo(shop, "Watches")["image"]
    index_dir = assistant.settings.index_dir
    proc = run_cli("search", "--image", photo, "--catalog", str(path), "--json", "--k", "5",
                   index_dir=index_dir)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["mode"] == "photo" and len(data["results"]) == 5
    assert data["recognised"]["category"][0]["value"] == "Watches"
    assert all(r["why"] and r["category"].endswith("Watches") for r in data["results"])

    proc = run_cli("search", "in black", "--image", photo, "--catalog", str(path), index_dir=index_dir)
    assert proc.returncode == 0 and "recognised:" in proc.stdout and "Black" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (("search", "--image", "/nonexistent/photo.jpg", "--catalog", "demo"), "can't find"),
    (("search", "--catalog", "demo"), "Please type"),
])
def test_cli_photo_errors_are_one_line(tmp_path, args, message):
    proc = run_cli(*args, index_dir=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_eval_photos_reports_every_number(shop):
    assistant, name, _, _ = shop
    report = run_photo_eval(assistant, name, limit=12)
    assert report.n_queries == 12
    for metrics in report.precision.values():
        assert 0 <= metrics["type"] <= 1 and 0 <= metrics["type_colour"] <= metrics["type"]
    assert set(report.accuracy) == {"category", "color", "gender", "occasion"}
    assert report.latency_ms["p95"] >= report.latency_ms["p50"] > 0
    assert "P@10 same type" in report.table() and "| colour (10 most frequent)" in report.table()
    assert 1 <= sum(m["photos"] for m in report.colour_accuracy.values()) <= 12  # each query once
    assert all(0 <= m["accuracy"] <= 1 for m in report.colour_accuracy.values())


def test_gradio_photo_upload_searches_shows_chips_and_deletes_the_upload(shop):
    from assistant.shells.web.app import build_app

    assistant, name, _, _ = shop
    app = build_app(assistant, name)
    photo = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "photo")
    shell, sid = app.shell, "photo-test"
    upload = Path(photo.GRADIO_CACHE) / "test-upload" / "photo.jpg"
    upload.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_photo(shop, "Heels")["image"], upload)

    view = shell.on_photo(sid, str(upload), "")
    assert view.photo is None and not upload.exists()  # the uploaded copy is not kept
    assert "Heels" in view.chat[-1]["content"] and "data-product-id" in view.cards
    assert "Heels" in view.chips

    view = shell.on_chips(sid, [c for c in view.chips if c != "Heels"])
    assert "Heels" not in view.chips

    assert "Red" in shell.on_message(sid, "in red").chat[-1]["content"]

    bad = Path(photo.GRADIO_CACHE) / "test-upload" / "notes.jpg"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text("not a photo")
    assert "isn't a picture" in shell.on_photo(sid, str(bad), "").chat[-1]["content"] and not bad.exists()


def test_old_colour_features_are_recomputed_without_re_embedding(shop):
    """A colour-feature change makes the index stale; the rebuild reuses every image vector."""
    assistant, name, _, _ = shop
    settings = assistant.settings
    index = assistant.engine(name).index
    folder = photo_dir(name, settings)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["colour_version"] = COLOUR_VERSION - 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexProblem, match="stale"):
        check_photo_index(index, settings)
    rebuilt = ensure_photo_index(index, settings, progress=False)
    m = rebuilt.manifest
    assert m["reused_vectors"] == m["recoloured"] == m["count"]  # colours recomputed, nothing re-embedded
    assert rebuilt.colours.shape == (m["count"], COLOUR_DIM)
    assert check_photo_index(index, settings)["colour_version"] == COLOUR_VERSION


def test_held_out_photo_colour_comes_from_its_pixels(shop):
    """A product the probes never saw: blue jeans read as Blue, and the item's own pixels (not the
    white background) are blue in CIELAB (median b < 0), grey once the photo is made greyscale."""
    assistant, name, _, products = shop
    jeans = next(r for r in products.values() if held_out(r["id"]) and r["category"][-1] == "Jeans"
                 and r["colors"] == ["Blue"])
    seen = assistant.understand_image(jeans["image"], catalog=name)
    assert seen.best("color")[0] == "Blue" and seen.best("category")[0] == "Jeans"

    def median_ab(img):
        stats = colour_features(img)[HSV_STATS.stop + LAB_HIST_DIM:] * 50  # mean, std, p10, p50, p90
        return stats[10:12]

    photo = Image.open(jeans["image"]).convert("RGB")
    assert median_ab(photo)[1] < -3
    assert np.abs(median_ab(photo.convert("L").convert("RGB"))).max() < 1
