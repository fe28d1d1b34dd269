"""Shopper history: what an anonymous shopper viewed, clicked, carted, bought or searched, in a
local SQLite file (`Settings.history_db`). WAL mode lets several sessions and processes write at
once; every write is one short `BEGIN IMMEDIATE` transaction, so a crash loses at most the
transaction in flight and never leaves a half-written row. `forget()` deletes a shopper and
rewrites the file so no trace of the id survives on disk (see docs/privacy.md).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from assistant.config import Settings
from assistant.errors import ShopperError

log = logging.getLogger(__name__)

KINDS = ("view", "click", "add_to_cart", "purchase", "query")
PRODUCT_KINDS = KINDS[:4]

# Schema migrations, applied in order; `PRAGMA user_version` records how many have run.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        shopper TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('view', 'click', 'add_to_cart', 'purchase', 'query')),
        catalog TEXT NOT NULL,
        product_id TEXT,
        query TEXT,
        ts REAL NOT NULL
    );
    CREATE INDEX events_shopper ON events (shopper, ts);
    CREATE INDEX events_item ON events (catalog, product_id);
    """,
    """
    CREATE TABLE shoppers (
        shopper TEXT PRIMARY KEY,
        personalize INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX events_ts ON events (ts);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Event:
    """One thing a shopper did. `query` is None unless query text storage is switched on."""

    shopper: str
    kind: str
    catalog: str
    product_id: str | None = None
    query: str | None = None
    ts: float = 0.0


def shopper_id(value: str | None) -> str:
    """The canonical anonymous id (a UUID); anything else (a name, an e-mail) is refused."""
    try:
        return str(uuid.UUID(str(value).strip()))
    except (ValueError, AttributeError, TypeError):
        raise ShopperError("A shopper id must be an anonymous id (a UUID such as "
                           "'3f2b…-…'); names and e-mail addresses are never stored.") from None


def new_shopper_id() -> str:
    return str(uuid.uuid4())


class HistoryStore:
    """Events in SQLite. One connection per thread; safe across threads and processes."""

    def __init__(self, path: str | Path, retention_days: float = 90.0, store_queries: bool = False,
                 debug: bool = False, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
        self.retention_days = float(retention_days)
        self.store_queries = store_queries
        self.debug = debug
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._last_expiry = 0.0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise ShopperError(f"The history database {self.path} cannot be used: {exc}") from exc
        self.expire()

    @classmethod
    def from_settings(cls, settings: Settings) -> "HistoryStore":
        return cls(settings.history_db, settings.history_retention_days,
                   settings.history_store_queries, settings.debug)

    # ------------------------------------------------------------------ connections
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # autocommit mode: transactions are explicit `BEGIN IMMEDIATE` blocks below
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a killed process loses nothing committed
            conn.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten with zeros
            self._local.conn = conn
        return conn

    def _write(self, sql: str, rows: Iterable[tuple] | tuple = ()) -> int:
        """Run one statement (or one per row) in a single immediate transaction."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(rows, tuple):
                cur = conn.execute(sql, rows)
                count = cur.rowcount
            else:
                cur = conn.executemany(sql, rows)
                count = cur.rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return count

    def _migrate(self) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see it done
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ShopperError(f"The history database {self.path} was written by a newer version "
                                   f"(schema {version}, this one knows {SCHEMA_VERSION}).")
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ------------------------------------------------------------------ writing
    def _row(self, event: Event) -> tuple:
        if event.kind not in KINDS:
            raise ShopperError(f"Unknown event kind '{event.kind}'. Use one of: {', '.join(KINDS)}.")
        if event.kind in PRODUCT_KINDS and not event.product_id:
            raise ShopperError(f"A '{event.kind}' event needs a product id.")
        query = event.query if (event.kind == "query" and self.store_queries) else None
        return (shopper_id(event.shopper), event.kind, event.catalog,
                event.product_id if event.kind in PRODUCT_KINDS else None, query, event.ts or time.time())

    def record(self, shopper: str, kind: str, catalog: str, product_id: str | None = None,
               query: str | None = None, ts: float | None = None) -> None:
        """Store one event."""
        self.record_many([Event(shopper, kind, catalog, product_id, query, ts or 0.0)])

    def record_many(self, events: Iterable[Event]) -> int:
        """Store events in one transaction (e.g. every result of a page as a view)."""
        rows = [self._row(e) for e in events]
        if not rows:
            return 0
        self._write("INSERT INTO events (shopper, kind, catalog, product_id, query, ts) "
                    "VALUES (?, ?, ?, ?, ?, ?)", rows)
        if self.debug:
            log.debug("recorded %s", [(r[1], r[3], r[4]) for r in rows])
        else:  # no ids, products or query text in normal logs
            log.debug("recorded %d event(s)", len(rows))
        self._maybe_expire()
        return len(rows)

    # ------------------------------------------------------------------ reading
    def events(self, shopper: str, catalog: str | None = None, kinds: Iterable[str] = KINDS,
               limit: int | None = None) -> list[Event]:
        """A shopper's events, newest first."""
        kinds = list(kinds)
        sql = (f"SELECT shopper, kind, catalog, product_id, query, ts FROM events WHERE shopper = ? "
               f"AND kind IN ({','.join('?' * len(kinds))})")
        args: list = [shopper_id(shopper), *kinds]
        if catalog:
            sql += " AND catalog = ?"
            args.append(catalog)
        sql += " ORDER BY ts DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [Event(*row) for row in self.conn.execute(sql, args)]

    def sessions(self, catalog: str, kinds: Iterable[str] = PRODUCT_KINDS,
                 exclude_shopper: str | None = None) -> Iterator[tuple[str, list[tuple[str, str]]]]:
        """Every shopper's (kind, product id) list for one catalog, oldest first: co-occurrence input."""
        kinds = list(kinds)
        rows = self.conn.execute(
            f"SELECT shopper, kind, product_id FROM events WHERE catalog = ? AND kind IN "
            f"({','.join('?' * len(kinds))}) ORDER BY shopper, ts, id", [catalog, *kinds])
        current, items = None, []
        for shopper, kind, product in rows:
            if shopper != current:
                if current is not None and current != exclude_shopper:
                    yield current, items
                current, items = shopper, []
            items.append((kind, product))
        if current is not None and current != exclude_shopper:
            yield current, items

    def version(self) -> int:
        """Changes whenever events are added or removed (for caches built from all events)."""
        row = self.conn.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM events").fetchone()
        return hash(row)

    def count(self, shopper: str | None = None) -> int:
        if shopper is None:
            return self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM events WHERE shopper = ?",
                                 (shopper_id(shopper),)).fetchone()[0]

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # ------------------------------------------------------------------ opt-in personalisation
    def set_personalize(self, shopper: str, on: bool) -> None:
        self._write("INSERT INTO shoppers (shopper, personalize) VALUES (?, ?) ON CONFLICT(shopper) "
                    "DO UPDATE SET personalize = excluded.personalize", (shopper_id(shopper), int(on)))

    def personalize(self, shopper: str) -> bool:
        row = self.conn.execute("SELECT personalize FROM shoppers WHERE shopper = ?",
                                (shopper_id(shopper),)).fetchone()
        return bool(row and row[0])

    # ------------------------------------------------------------------ privacy
    def forget(self, shopper: str) -> int:
        """Delete every row about a shopper, then compact the file and empty the WAL so the id
        is gone from the bytes on disk. Returns the number of events deleted."""
        sid = shopper_id(shopper)
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            deleted = conn.execute("DELETE FROM events WHERE shopper = ?", (sid,)).rowcount
            conn.execute("DELETE FROM shoppers WHERE shopper = ?", (sid,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.compact()
        log.info("forgot a shopper: %d event(s) deleted", deleted)
        return deleted

    def compact(self) -> None:
        """VACUUM (rewrites the file without free pages), then checkpoint and truncate the WAL."""
        conn = self.conn
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:  # another connection is reading: the WAL could not be emptied yet
            log.warning("history WAL still in use; it is emptied at the next checkpoint")

    def expire(self, now: float | None = None) -> int:
        """Delete events older than the retention period."""
        now = time.time() if now is None else now
        self._last_expiry = now
        if self.retention_days <= 0:
            return 0
        cutoff = now - self.retention_days * 86400
        deleted = self._write("DELETE FROM events WHERE ts < ?", (cutoff,))
        if deleted:
            log.info("retention: %d old event(s) deleted", deleted)
        return deleted

    def _maybe_expire(self) -> None:
        if time.time() - self._last_expiry > 3600:
            self.expire()


_stores: dict[Path, HistoryStore] = {}
_stores_lock = threading.Lock()


def get_store(settings: Settings) -> HistoryStore:
    """One store per database path per process (its connections are per thread)."""
    path = Path(settings.history_db).resolve()
    with _stores_lock:
        if path not in _stores:
            _stores[path] = HistoryStore.from_settings(settings)
        return _stores[path]
