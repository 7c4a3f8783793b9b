"""A side-effect ledger in SQLite: every tool call that "touches the world" appends a row.

Processes (naive loops, subprocess workers, activities) write to it; the notebook reads it to prove
what really happened - how many times each step ran, and when - independent of any history.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported on use: worker processes that only record() start faster
    import pandas as pd

_SCHEMA = """CREATE TABLE IF NOT EXISTS effects (
    id INTEGER PRIMARY KEY AUTOINCREMENT, actor TEXT NOT NULL, step INTEGER, name TEXT,
    key TEXT, attempt INTEGER, pid INTEGER, started REAL, finished REAL NOT NULL)"""


class Ledger:
    """An append-only table of side effects shared by every process that gets its path."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @classmethod
    def new(cls, name: str) -> "Ledger":
        """A fresh, empty ledger file under .lab-state/ledgers/."""
        from .server import STATE

        return cls(STATE / "ledgers" / f"{name}-{uuid.uuid4().hex[:8]}.db")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def record(self, actor: str, step: int, name: str = "", key: str = "", attempt: int = 1,
               started: float | None = None) -> None:
        """Append one side effect (the moment it happened is now)."""
        with self._db() as db:
            db.execute(
                "INSERT INTO effects (actor, step, name, key, attempt, pid, started, finished) VALUES (?,?,?,?,?,?,?,?)",
                (actor, step, name, key, attempt, os.getpid(), started, time.time()),
            )

    def record_attempt(self, workflow_id: str, activity_id: str, attempt: int, started: float,
                       error: str | None = None) -> None:
        """Append one activity attempt to the attempt log (error None means it succeeded)."""
        self.record("attempt", attempt, f"{workflow_id}#{activity_id}", key=error or "", attempt=attempt, started=started)

    def attempts(self, workflow_id: str) -> pd.DataFrame:
        """One workflow's attempt log, in the shape `plots.timeline(attempts=...)` takes."""
        import pandas as pd

        df = self.frame("attempt")
        df = df[df["name"].str.startswith(f"{workflow_id}#")]
        return pd.DataFrame({"activity_id": df["name"].str.split("#").str[-1], "attempt": df["attempt"],
                             "start": df["started"], "end": df["finished"],
                             "error": df["key"].where(df["key"] != "", None)}).reset_index(drop=True)

    def frame(self, actor: str | None = None) -> pd.DataFrame:
        """All effects (of one actor) as a DataFrame, oldest first."""
        import pandas as pd

        with self._db() as db:
            sql, args = "SELECT * FROM effects", ()
            if actor is not None:
                sql, args = sql + " WHERE actor = ?", (actor,)
            return pd.read_sql_query(sql + " ORDER BY id", db, params=args)

    def count(self, actor: str | None = None) -> int:
        """How many effects were recorded (by one actor)."""
        with self._db() as db:
            if actor is None:
                return int(db.execute("SELECT COUNT(*) FROM effects").fetchone()[0])
            return int(db.execute("SELECT COUNT(*) FROM effects WHERE actor = ?", (actor,)).fetchone()[0])

    async def wait_for(self, n: int, actor: str | None = None, timeout: float = 30.0) -> None:
        """Wait until at least `n` effects exist (polling the ledger); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while self.count(actor) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"ledger {self.path.name}: fewer than {n} effects after {timeout:g}s")
            await asyncio.sleep(0.02)

    def clear(self) -> None:
        """Delete every recorded effect."""
        with self._db() as db:
            db.execute("DELETE FROM effects")
