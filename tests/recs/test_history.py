"""Shopper history on a real SQLite file: migrations, concurrent writers (threads and processes),
a writer killed mid-write, forget-me down to the bytes on disk, retention, quiet logs."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from assistant.errors import ShopperError
from assistant.recs.history import MIGRATIONS, SCHEMA_VERSION, Event, HistoryStore, new_shopper_id
from tests.conftest import ROOT


def test_fresh_database_is_migrated_and_in_wal_mode(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    HistoryStore(tmp_path / "h.sqlite3")  # reopening is a no-op, not an error


def test_an_old_schema_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    conn.execute("INSERT INTO events (shopper, kind, catalog, product_id, ts) VALUES (?, 'view', 'demo', 'x', ?)",
                 (str(uuid.uuid4()), time.time()))
    conn.commit()
    conn.close()
    store = HistoryStore(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.count() == 1  # data survives the migration
    shopper = new_shopper_id()
    store.set_personalize(shopper, True)  # the table added by migration 2 works
    assert store.personalize(shopper)


def test_events_round_trip_and_bad_input_is_refused(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    shopper = new_shopper_id()
    store.record(shopper, "view", "demo", "demo-0001")
    store.record(shopper, "purchase", "demo", "demo-0002")
    store.record(shopper, "query", "demo", query="grey sofa")
    kinds = [e.kind for e in store.events(shopper)]
    assert kinds == ["query", "purchase", "view"]  # newest first
    for bad in ("jane@example.com", "Jane Doe", ""):
        with pytest.raises(ShopperError, match="anonymous"):
            store.record(bad, "view", "demo", "demo-0001")
    with pytest.raises(ShopperError, match="Unknown event kind"):
        store.record(shopper, "stare", "demo", "demo-0001")
    with pytest.raises(ShopperError, match="needs a product"):
        store.record(shopper, "click", "demo")


def test_query_text_is_kept_only_when_allowed(tmp_path):
    shopper = new_shopper_id()
    off = HistoryStore(tmp_path / "off.sqlite3")
    off.record(shopper, "query", "demo", query="red lace lingerie")
    assert off.events(shopper)[0].query is None
    off.compact()
    assert b"red lace lingerie" not in (tmp_path / "off.sqlite3").read_bytes()
    on = HistoryStore(tmp_path / "on.sqlite3", store_queries=True)
    on.record(shopper, "query", "demo", query="red lace lingerie")
    assert on.events(shopper)[0].query == "red lace lingerie"


WRITER = textwrap.dedent("""
    import sys, threading
    from assistant.recs.history import HistoryStore, Event
    path, tag, per_thread = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = HistoryStore(path)
    shopper = sys.argv[4]
    def work(t):
        for i in range(per_thread):
            store.record(shopper, "view", "demo", f"{tag}-{t}-{i}")
    threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for th in threads: th.start()
    for th in threads: th.join()
""")


def test_four_writer_processes_lose_nothing(tmp_path):
    """4 processes × 2 threads, one transaction per event, all at once: every event is there."""
    path = tmp_path / "h.sqlite3"
    HistoryStore(path).close()
    per_thread = 150
    shoppers = [new_shopper_id() for _ in range(4)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{n}", str(per_thread), shoppers[n]],
                              env=env, stderr=subprocess.PIPE, text=True) for n in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    store = HistoryStore(path)
    assert store.count() == 4 * 2 * per_thread
    for n, shopper in enumerate(shoppers):
        ids = {e.product_id for e in store.events(shopper)}
        assert ids == {f"w{n}-{t}-{i}" for t in range(2) for i in range(per_thread)}
    assert store.integrity_check() == "ok"


def test_threads_in_one_process_share_a_store(tmp_path):
    import threading

    store = HistoryStore(tmp_path / "h.sqlite3")
    shopper = new_shopper_id()
    threads = [threading.Thread(target=lambda t=t: [store.record(shopper, "click", "demo", f"{t}-{i}")
                                                    for i in range(100)]) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert store.count(shopper) == 400


KILLED = textwrap.dedent("""
    import sys
    from assistant.recs.history import HistoryStore, Event
    store = HistoryStore(sys.argv[1])
    shopper, batch = sys.argv[2], 0
    while True:
        store.record_many([Event(shopper, "view", "demo", f"b{batch}-{i}") for i in range(10)])
        batch += 1
        print(batch, flush=True)
""")


def test_a_writer_killed_mid_write_leaves_a_consistent_database(tmp_path):
    path = tmp_path / "h.sqlite3"
    shopper = new_shopper_id()
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(path), shopper], stdout=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), text=True)
    committed = 0
    for line in proc.stdout:  # let it commit a good number of batches, then kill it mid-stream
        committed = int(line)
        if committed >= 50:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    store = HistoryStore(path)
    assert store.integrity_check() == "ok"
    count = store.count(shopper)
    assert count % 10 == 0, "a batch was half written"
    assert count >= committed * 10, "a committed batch was lost"
    store.record(shopper, "view", "demo", "after-the-crash")  # still writable
    assert store.count(shopper) == count + 1


def _disk_bytes(path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-journal"):
        f = path.with_name(path.name + suffix)
        if f.exists():
            data += f.read_bytes()
    return data


def test_forget_removes_every_trace_of_the_id_from_disk(tmp_path):
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path, store_queries=True)
    gone, kept = new_shopper_id(), new_shopper_id()
    for i in range(300):  # enough rows to span many pages
        store.record_many([Event(gone, "view", "demo", f"demo-{i:04d}"), Event(kept, "view", "demo", f"demo-{i:04d}")])
    store.record(gone, "query", "demo", query="a very private search phrase")
    store.set_personalize(gone, True)
    before = _disk_bytes(path)
    assert gone.encode() in before
    assert store.forget(gone) == 301
    after = _disk_bytes(path)
    for form in (gone, gone.replace("-", ""), gone.upper()):
        assert form.encode() not in after
    assert b"a very private search phrase" not in after
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert store.count(gone) == 0 and store.count(kept) == 300
    assert not store.personalize(gone)
    assert store.integrity_check() == "ok"


def test_forget_from_the_command_line(tmp_path):
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path)
    gone = new_shopper_id()
    store.record(gone, "view", "demo", "demo-0001")
    store.close()
    env = dict(os.environ, ASSISTANT_HISTORY_DB=str(path))
    proc = subprocess.run([sys.executable, "-m", "assistant", "forget", "--user", gone], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1 event(s) deleted" in proc.stdout
    assert gone.encode() not in _disk_bytes(path)
    bad = subprocess.run([sys.executable, "-m", "assistant", "forget", "--user", "jane@example.com"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error:") and len(bad.stderr.strip().splitlines()) == 1


def test_retention_expires_old_events(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3", retention_days=30)
    shopper = new_shopper_id()
    now = time.time()
    store.record(shopper, "view", "demo", "old", ts=now - 31 * 86400)
    store.record(shopper, "view", "demo", "new", ts=now - 29 * 86400)
    assert store.expire(now) == 1
    assert [e.product_id for e in store.events(shopper)] == ["new"]
    # opening the file applies retention too
    store.record(shopper, "view", "demo", "old2", ts=now - 40 * 86400)
    store.close()
    assert [e.product_id for e in HistoryStore(tmp_path / "h.sqlite3", retention_days=30).events(shopper)] == ["new"]
    forever = HistoryStore(tmp_path / "h.sqlite3", retention_days=0)
    forever.record(shopper, "view", "demo", "ancient", ts=now - 4000 * 86400)
    assert forever.expire(now) == 0


def test_logs_carry_no_query_text_unless_debug(tmp_path, caplog):
    shopper = new_shopper_id()
    caplog.set_level(logging.DEBUG)
    store = HistoryStore(tmp_path / "h.sqlite3", store_queries=True)
    store.record(shopper, "query", "demo", query="secret gift for my partner")
    store.forget(shopper)
    assert "secret gift" not in caplog.text and shopper not in caplog.text
    caplog.clear()
    debug = HistoryStore(tmp_path / "d.sqlite3", store_queries=True, debug=True)
    debug.record(shopper, "query", "demo", query="secret gift for my partner")
    assert "secret gift" in caplog.text
