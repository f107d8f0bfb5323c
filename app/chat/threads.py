"""Where chat threads live: one SQLite file holding LangGraph's checkpoints (the whole graph
state of every thread, through langgraph-checkpoint-sqlite) and a small table that lists the
threads for ``sinoloc chat --list``."""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import time
from pathlib import Path

from pydantic import BaseModel

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


class ThreadInfo(BaseModel):
    thread_id: str
    created: float
    updated: float
    images: int
    questions: int
    first_image: str | None
    last_answer: str | None
    last_image: str | None = None  # the image the last answer is about (stores before it: None)


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

    def __init__(self, path: str | Path):
        from langgraph.checkpoint.sqlite import SqliteSaver

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        with self._conn:
            self._conn.execute(_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(sinoloc_threads)")}
            if "last_image" not in columns:  # a store written before --list paired answers
                self._conn.execute("ALTER TABLE sinoloc_threads ADD COLUMN last_image TEXT")
        self.checkpointer = SqliteSaver(self._conn)

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

    def threads(self) -> list[ThreadInfo]:
        """Every thread, the most recently used first."""
        rows = self._conn.execute(
            "SELECT thread_id, created, updated, images, questions, first_image, last_answer, "
            "last_image "
            "FROM sinoloc_threads ORDER BY updated DESC").fetchall()
        fields = list(ThreadInfo.model_fields)
        return [ThreadInfo(**dict(zip(fields, row, strict=True))) for row in rows]
