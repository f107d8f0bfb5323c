"""Where chat threads live: one SQLite file holding LangGraph's checkpoints (the whole graph
state of every thread, through langgraph-checkpoint-sqlite) and a small table that lists the
threads for ``sinoloc chat --list``.

A store a server writes for its clients has bounds (:class:`ThreadLimits`: threads by age and
count, the file by the bytes its pages hold) and keeps one checkpoint per thread
(:meth:`ThreadStore.compact` after each run: the saver writes the whole state per checkpoint, so
a hundred questions would otherwise keep a hundred copies). ``sinoloc chat``'s own store is the
user's and has none."""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import time
from pathlib import Path

from pydantic import BaseModel, Field

ENV_CHAT_DB = "SINOLOC_CHAT_DB"
# thread ids name files (the /map page): a safe alphabet, no leading dot, no path separators
THREAD_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
_SCHEMA = """CREATE TABLE IF NOT EXISTS sinoloc_threads (
    thread_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    images INTEGER NOT NULL DEFAULT 0,
    questions INTEGER NOT NULL DEFAULT 0,
    first_image TEXT,
    last_answer TEXT,
    last_image TEXT
)"""


class ThreadLimits(BaseModel):
    """Bounds of a served thread store (``sinoloc serve``); the oldest threads go first."""

    max_threads: int = Field(default=1000, ge=1)
    max_age_s: float = Field(default=30 * 86400.0, gt=0)
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024, description=(
        "the bytes the file's pages hold (freed pages are returned to the file system)"))


class ThreadInfo(BaseModel):
    thread_id: str
    created: float
    updated: float
    images: int
    questions: int
    first_image: str | None
    last_answer: str | None
    last_image: str | None = None  # the image the last answer is about (stores before it: None)


ENV_THREADS = "SINOLOC_SERVE_THREADS"
ENV_THREAD_DAYS = "SINOLOC_SERVE_THREAD_DAYS"
ENV_THREADS_MB = "SINOLOC_SERVE_THREADS_MB"


def thread_limits(environ=None) -> ThreadLimits:
    """A served store's bounds from the environment (read once, when the server starts)."""
    env = os.environ if environ is None else environ
    fields: dict = {}
    for key, name, scale in ((ENV_THREADS, "max_threads", 1), (ENV_THREAD_DAYS, "max_age_s", 86400),
                             (ENV_THREADS_MB, "max_bytes", 1024 * 1024)):
        if env.get(key):
            value = float(env[key]) * scale
            fields[name] = value if name == "max_age_s" else int(value)
    return ThreadLimits(**fields)


def default_db_path() -> Path:
    env = os.environ.get(ENV_CHAT_DB)
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("sinoloc")) / "chat.sqlite"


class ThreadIdError(ValueError):
    """A thread id outside the safe alphabet."""


def check_thread_id(thread_id: str) -> str:
    """``thread_id`` when it is 1–64 characters of ``A-Z a-z 0-9 . _ -`` not starting with a
    dot; raises :class:`ThreadIdError` (one line) otherwise."""
    if not isinstance(thread_id, str) or not THREAD_ID.fullmatch(thread_id):
        shown = ascii(thread_id) if isinstance(thread_id, str) else type(thread_id).__name__
        raise ThreadIdError(f"--thread {shown[:80]}: a thread id is 1-64 characters from "
                            "A-Z a-z 0-9 . _ - and does not start with '.'")
    return thread_id


def new_thread_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


class ThreadStore:
    """The checkpointer and the thread list over one SQLite file (WAL, so a second session on
    the same file reads while another writes)."""

    def __init__(self, path: str | Path, limits: ThreadLimits | None = None):
        from langgraph.checkpoint.sqlite import SqliteSaver

        self.path = Path(path)
        self.limits = limits
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        # a new file returns freed pages (pruned threads) to the file system on request
        self._conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._conn.execute("PRAGMA journal_mode=WAL")
        with self._conn:
            self._conn.execute(_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(sinoloc_threads)")}
            if "last_image" not in columns:  # a store written before --list paired answers
                self._conn.execute("ALTER TABLE sinoloc_threads ADD COLUMN last_image TEXT")
        self.checkpointer = SqliteSaver(self._conn)
        self.checkpointer.setup()  # its tables, so that compact() and prune() may run first

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ThreadStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def exists(self, thread_id: str) -> bool:
        return self._conn.execute("SELECT 1 FROM sinoloc_threads WHERE thread_id = ?",
                                  (thread_id,)).fetchone() is not None

    def record(self, thread_id: str, *, image: str | None = None, question: bool = False,
               answer: str | None = None) -> None:
        """Note a turn on ``thread_id`` (created on first use)."""
        now = time.time()
        with self.checkpointer.lock, self._conn:
            self._conn.execute(
                "INSERT INTO sinoloc_threads (thread_id, created, updated, first_image) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(thread_id) DO NOTHING",
                (thread_id, now, now, image))
            self._conn.execute(
                "UPDATE sinoloc_threads SET updated = ?, images = images + ?, "
                "questions = questions + ?, first_image = COALESCE(first_image, ?), "
                "last_image = COALESCE(?, last_image), "  # a new image: its answer is to come
                "last_answer = CASE WHEN ? IS NOT NULL THEN ? WHEN ? IS NOT NULL THEN NULL "
                "ELSE last_answer END WHERE thread_id = ?",
                (now, int(image is not None), int(question), image, image, answer, answer, image,
                 thread_id))

    def threads(self, limit: int | None = None, before: float | None = None) -> list[ThreadInfo]:
        """The threads, the most recently used first: at most ``limit``, only those last used
        before ``before`` (the previous page's last ``updated``) when given."""
        rows = self._conn.execute(
            "SELECT thread_id, created, updated, images, questions, first_image, last_answer, "
            "last_image FROM sinoloc_threads WHERE updated < ? ORDER BY updated DESC LIMIT ?",
            (float("inf") if before is None else before, -1 if limit is None else limit)).fetchall()
        fields = list(ThreadInfo.model_fields)
        return [ThreadInfo(**dict(zip(fields, row, strict=True))) for row in rows]

    # ------------------------------------------------------------------ bounds
    def compact(self, thread_id: str) -> None:
        """Keep only the latest checkpoint of ``thread_id`` (and its pending writes)."""
        with self.checkpointer.lock, self._conn:
            for table in ("checkpoints", "writes"):
                self._conn.execute(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id < "
                    "(SELECT MAX(checkpoint_id) FROM checkpoints c WHERE c.thread_id = ? "
                    f"AND c.checkpoint_ns = {table}.checkpoint_ns)", (thread_id, thread_id))

    def used_bytes(self) -> int:
        """The bytes the file's pages hold (the write-ahead log not counted)."""
        pages, free, size = (self._conn.execute(f"PRAGMA {p}").fetchone()[0]
                             for p in ("page_count", "freelist_count", "page_size"))
        return (pages - free) * size

    def delete(self, thread_ids: list[str]) -> None:
        with self.checkpointer.lock, self._conn:
            for thread_id in thread_ids:
                for table in ("checkpoints", "writes", "sinoloc_threads"):
                    self._conn.execute(f"DELETE FROM {table} WHERE thread_id = ?",
                                       (thread_id,))

    def prune(self, now: float | None = None) -> list[str]:
        """Apply the store's :class:`ThreadLimits` (none: nothing): threads past the age, then
        the oldest beyond the count, then the oldest while the pages hold more than the bytes.
        Returns the removed thread ids."""
        if self.limits is None:
            return []
        limits, now = self.limits, time.time() if now is None else now
        old = [r[0] for r in self._conn.execute(
            "SELECT thread_id FROM sinoloc_threads WHERE updated < ?", (now - limits.max_age_s,))]
        old += [r[0] for r in self._conn.execute(
            "SELECT thread_id FROM sinoloc_threads WHERE updated >= ? ORDER BY updated DESC "
            "LIMIT -1 OFFSET ?", (now - limits.max_age_s, limits.max_threads))]
        self.delete(old)
        while self.used_bytes() > limits.max_bytes:
            oldest = [r[0] for r in self._conn.execute(
                "SELECT thread_id FROM sinoloc_threads ORDER BY updated LIMIT "
                "MAX(1, (SELECT COUNT(*) FROM sinoloc_threads) / 10)")]
            if not oldest:
                break
            self.delete(oldest)
            old += oldest
        if old:
            with self.checkpointer.lock:
                try:  # give the pages back; a reader elsewhere may hold them: next time then
                    self._conn.execute("PRAGMA incremental_vacuum").fetchall()  # one page a row
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.OperationalError:
                    pass
        return old
