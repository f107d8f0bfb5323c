"""One SQLite file (WAL) shared by every process on the machine: the response cache, keyed by
provider and normalised query, with a TTL; and the per-provider rate-limit slots, reserved in
an ``IMMEDIATE`` transaction so concurrent threads and eval workers queue instead of colliding.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS responses (provider TEXT NOT NULL, query TEXT NOT NULL, "
    "value TEXT NOT NULL, stored_at REAL NOT NULL, PRIMARY KEY (provider, query))",
    "CREATE TABLE IF NOT EXISTS slots (provider TEXT PRIMARY KEY, next_at REAL NOT NULL)",
)


def normalise_query(params: dict) -> str:
    """The cache key of a request: NFKC text, collapsed spaces, sorted keys, no secrets."""
    def clean(value):
        if isinstance(value, str):
            return " ".join(unicodedata.normalize("NFKC", value).split())
        return value

    return json.dumps({k: clean(v) for k, v in sorted(params.items()) if v is not None},
                      ensure_ascii=False, sort_keys=True)


ENV_ONLINE_DB = "SINOLOC_ONLINE_DB"


def default_store_path() -> Path:
    """``$SINOLOC_ONLINE_DB``, else ``online.sqlite`` in the user cache directory."""
    import os

    if os.environ.get(ENV_ONLINE_DB):
        return Path(os.environ[ENV_ONLINE_DB])
    from sinoloc.tools.regions.index import default_cache_dir

    return default_cache_dir() / "online.sqlite"


class OnlineStore:
    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock, self.sleep = clock, sleep
        self._local = threading.local()
        with self._connect() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return conn

    # ------------------------------------------------------------------ cache
    def get(self, provider: str, query: str, ttl_s: float) -> dict | list | None:
        row = self._connect().execute(
            "SELECT value, stored_at FROM responses WHERE provider = ? AND query = ?",
            (provider, query)).fetchone()
        if row is None or (ttl_s and self.clock() - row[1] > ttl_s):
            return None
        return json.loads(row[0])

    def put(self, provider: str, query: str, value: dict | list) -> None:
        self._connect().execute(
            "INSERT OR REPLACE INTO responses (provider, query, value, stored_at) "
            "VALUES (?, ?, ?, ?)", (provider, query, json.dumps(value, ensure_ascii=False),
                                    self.clock()))

    def count(self, provider: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM responses"
        args: tuple[str, ...] = ()
        if provider:
            sql, args = sql + " WHERE provider = ?", (provider,)
        return self._connect().execute(sql, args).fetchone()[0]

    # ------------------------------------------------------------------ rate limits
    def reserve(self, provider: str, interval_s: float) -> float:
        """Reserve the provider's next free slot and return when it starts (clock time)."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes too
        try:
            row = conn.execute("SELECT next_at FROM slots WHERE provider = ?",
                               (provider,)).fetchone()
            slot = max(self.clock(), row[0] if row else 0.0)
            conn.execute("INSERT OR REPLACE INTO slots (provider, next_at) VALUES (?, ?)",
                         (provider, slot + interval_s))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return slot

    def penalise(self, provider: str, seconds: float) -> float:
        """No slot for anyone before ``seconds`` from now (a 429 slows every caller, not only
        the one that got it); returns the provider's next free slot (clock time)."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT next_at FROM slots WHERE provider = ?",
                               (provider,)).fetchone()
            slot = max(self.clock() + seconds, row[0] if row else 0.0)
            conn.execute("INSERT OR REPLACE INTO slots (provider, next_at) VALUES (?, ?)",
                         (provider, slot))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return slot

    def wait_turn(self, provider: str, interval_s: float) -> float:
        """Block until this caller's slot; the seconds waited."""
        if interval_s <= 0:
            return 0.0
        wait = self.reserve(provider, interval_s) - self.clock()
        if wait > 0:
            self.sleep(wait)
        return max(wait, 0.0)
