"""A store's file is read within bounds (issue 17, defect 8) and an unclosed quote is reported,
never merged into a title (defect 7). The CLI cases run the real `assistant` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import CatalogError
from catalog import reading
from catalog.adapters import load_table
from tests.conftest import ROOT


def test_unterminated_quote_at_the_end_reports_every_swallowed_line(tmp_path: Path):
    path = tmp_path / "store.csv"
    path.write_text('id,title,price\n0,Cup,3\n1,"Blue mug,12\n2,Red kettle,45\n3,Lamp,10\n')
    report = load_table(path)
    assert [p.title for p in report.products] == ["Cup"]  # no title holding three rows
    assert [e.line for e in report.errors] == [3, 4, 5]
    assert "lines 3-5 read as one row" in str(report.errors[0])
    assert "quote opened on line 3" in str(report.errors[1])


def test_quote_closed_rows_later_is_reported_and_the_rest_loads(tmp_path: Path):
    path = tmp_path / "store.csv"
    path.write_text('id,title,price\n1,"Blue mug,12\n2,"Red kettle",45\n3,Lamp,10\n')
    report = load_table(path)
    assert [p.id for p in report.products] == ["3"]
    assert [e.line for e in report.errors] == [2, 3]


def test_quoted_text_over_several_lines_is_still_one_field(tmp_path: Path):
    """A real multi-line description (Shopify bodies often are) must not be flagged."""
    path = tmp_path / "store.csv"
    path.write_text('id,title,description,price\n1,Mug,"Glazed stoneware.\nHand wash, dry flat, no bleach.\n'
                    'Holds 350 ml",12\n2,Kettle,Steel,45\n')
    report = load_table(path)
    assert report.errors == []
    assert report.products[0].description.count("\n") == 2 and report.products[1].id == "2"


def test_quote_closing_at_a_field_edge_rows_later_is_still_caught(tmp_path: Path):
    """Well-formed CSV, right field count, but a following line is a row of its own."""
    path = tmp_path / "store.csv"
    path.write_text('sku,title,price\nA-1,"Blue mug\nB-2,Red kettle",45\nC-3,Lamp,10\n')
    report = load_table(path)
    assert [p.id for p in report.products] == ["C-3"]
    assert [e.line for e in report.errors] == [2, 3]


def test_a_field_past_the_bound_fails_with_its_line(tmp_path: Path):
    path = tmp_path / "store.csv"
    body = ("x" * 999 + "\n") * (reading.MAX_FIELD_CHARS // 1000 + 10)
    path.write_text(f'id,title,description\n1,Mug,ok\n2,Kettle,"{body}"\n')
    with pytest.raises(CatalogError, match="store.csv: line 3"):
        load_table(path)


def _load_in_child(path: Path, index_dir: Path, timeout: int = 30) -> str:
    """load_table and resolve_catalog on `path` in a child process with 2 GB of address space
    and a time limit, so the old behaviour (blocking on a FIFO, reading /dev/zero forever) fails
    the test instead of hanging or exhausting the machine."""
    import resource

    code = ("import sys; from assistant.config import Settings; from assistant.errors import CatalogError;"
            "from catalog.adapters import load_table\n"
            "for step in (lambda: load_table(sys.argv[1]), lambda: Settings(index_dir=sys.argv[2]).resolve_catalog(sys.argv[1])):\n"
            "    try: step(); print('accepted')\n"
            "    except CatalogError as exc: print('refused:', exc)\n")
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # noqa: E731
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(index_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=limit)
    return proc.stdout


def test_fifo_and_device_are_refused_without_blocking(tmp_path: Path):
    fifo = tmp_path / "feed.csv"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        lines = _load_in_child(path, tmp_path / "idx").splitlines()
        assert len(lines) == 2 and all(l.startswith("refused:") and "not a regular file" in l for l in lines), lines


def test_a_file_over_the_size_bound_is_refused_before_reading(tmp_path: Path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as fh:  # sparse: no disk used
        fh.truncate(reading.MAX_SOURCE_BYTES + 1)
    with pytest.raises(CatalogError, match="limited to 1 GiB"):
        load_table(path)
    with pytest.raises(CatalogError, match="limited to 1 GiB"):
        Settings(index_dir=tmp_path / "idx").resolve_catalog(str(path))


def _cli_peak_rss(args: list[str], index_dir: Path, timeout: int = 120):
    """Run the CLI in a fresh parent that reports its child's peak RSS (MB), so no other
    test's child process counts."""
    probe = (f"import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout={timeout - 10});"
             "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr);"
             "print('RSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, p.returncode)")
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(index_dir), HF_HUB_OFFLINE="1")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "assistant", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - started
    rss_line = proc.stdout.strip().splitlines()[-1].split()
    return proc, int(rss_line[1]), int(rss_line[2]), seconds


@pytest.mark.parametrize("make", ["dev-zero", "one-50MB-line"])
def test_cli_refuses_endless_or_newline_free_input_fast_with_bounded_memory(tmp_path: Path, make):
    """`--catalog /dev/zero` grew past 4.8 GB; a 50 MB file without a newline was read whole."""
    if make == "dev-zero":
        source = "/dev/zero"
    else:
        path = tmp_path / "big.csv"
        with path.open("w") as fh:
            fh.write("id,title,description\n1,Mug,")
            chunk = "y" * 1_000_000
            for _ in range(50):
                fh.write(chunk)
        source = str(path)
    proc, rss_mb, code, seconds = _cli_peak_rss(["search", "mug", "--catalog", source, "--json"], tmp_path / "idx")
    assert code == 2, proc.stderr
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and proc.stderr.strip().endswith(errors[0]) and "Traceback" not in proc.stderr
    assert ("not a regular file" if make == "dev-zero" else "line 2 is longer") in errors[0]
    assert rss_mb < 1024, rss_mb
    assert seconds < 60, seconds


def test_a_row_past_the_bound_names_the_line_it_started_on(tmp_path: Path):
    """Many short lines inside one quoted field: the row is refused with its first line."""
    path = tmp_path / "store.csv"
    with path.open("w") as fh:
        fh.write('id,title,description\n1,Mug,ok\n2,Kettle,"')
        fh.write(("z" * 99 + "\n") * (reading.MAX_ROW_CHARS // 100 + 10))
        fh.write('"\n')
    old_limit = reading.csv.field_size_limit(reading.MAX_ROW_CHARS * 2)  # let the row bound act first
    try:
        with pytest.raises(CatalogError, match="the row starting on line 3 runs past"):
            load_table(path)
    finally:
        reading.csv.field_size_limit(old_limit)
