"""Photo search on a catalog whose image paths cannot be opened (issue 17, defect 10): a missing
file and a text file named .jpg. It used to raise IndexProblem (a traceback in the CLI, the
generic "something went wrong" plus a logged traceback in the app); now both shells say the
catalog has no readable product photos, and text search keeps working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from assistant.config import settings_from_env
from assistant.core import Assistant
from tests.conftest import ROOT

SAYS = "has no readable product photos"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("unreadable")
    (tmp / "notes.jpg").write_text("not a picture")
    images = [str(tmp / "missing" / "1.jpg"), str(tmp / "notes.jpg"), str(tmp / "missing" / "3.jpg")]
    rows = [{"id": str(i), "title": title, "category": ["Accessories", "Watches"], "colors": ["Black"],
             "image": image}
            for i, (title, image) in enumerate(zip(("Black steel watch", "Brown leather watch",
                                                   "Silver sports watch"), images))]
    catalog = tmp / "nophotos.jsonl"
    catalog.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    query = tmp / "query.jpg"
    Image.new("RGB", (96, 96), (10, 10, 10)).save(query, "JPEG")
    return tmp, catalog, query


def test_cli_says_the_catalog_has_no_readable_photos(shop):
    tmp, catalog, query = shop
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(tmp / "cli-indexes"), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "assistant", "search", "--image", str(query),
                           "--catalog", str(catalog)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and lines[-1].startswith("error: ") and SAYS in lines[-1], proc.stderr[-2000:]


def test_app_handler_says_it_and_keeps_searching_text(shop, caplog):
    from assistant.shells.web.app import build_app

    tmp, catalog, query = shop
    settings = settings_from_env(index_dir=tmp / "app-indexes", history_db=tmp / "history.sqlite3")
    assistant = Assistant(settings, progress=False)
    name = settings.register_path(str(catalog))
    shell = build_app(assistant, name).shell
    view = shell.on_photo("shopper", str(query), "")
    message = view.chat[-1]["content"]
    assert SAYS in message and "went wrong" not in message, message
    assert not [r for r in caplog.records if r.exc_info], "no traceback in the log"
    view = shell.on_message("shopper", "brown watch")
    assert "Brown leather watch" in view.cards  # text search still works
    assert Path(query).exists(), "the shopper's own file outside Gradio's cache is kept"
