"""Control-plane state: JSON documents by kind and name, in SQLite.

Names are keyed case-insensitively (SageMaker treats ``My-Endpoint`` and ``my-endpoint`` as the
same resource) and each document keeps the spelling it was created with. Every write is committed
at once, in WAL mode, so a local cloud killed with SIGKILL loses nothing it acknowledged.

A thread that polls a resource through the API can :meth:`Store.watch` its kind of document:
the watch's ``wait`` sleeps like ``time.sleep`` but returns as soon as such a document is written,
so the next poll sees the change at once instead of a poll interval later.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from cdlab.localcloud.protocols.errors import error

StateNotSaved = error("StateNotSaved", 500, code="InternalFailure")


class Watch:
    """Writes of one kind of document, for a poller: ``wait(seconds)`` returns at the first write
    since the previous ``wait`` returned (or since the watch was made), or after ``seconds``."""

    def __init__(self, store: Store, kind: str) -> None:
        self.store, self.kind = store, kind
        self.seen = store.writes(kind)

    def wait(self, seconds: float) -> None:
        with self.store.written:
            self.store.written.wait_for(lambda: self.store.writes(self.kind) != self.seen, seconds)
            self.seen = self.store.writes(self.kind)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = threading.Condition()  # notified after each write
        self._writes: dict[str, int] = {}  # kind -> documents written since the start
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS docs ("
            " kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL,"
            " seq INTEGER NOT NULL, PRIMARY KEY (kind, key))"
        )

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc FROM docs WHERE kind = ? AND key = ?", (kind, name.lower())
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, name: str, doc: dict[str, Any], last: bool = False) -> None:
        """Save ``doc``; one already saved under the name keeps its creation number, unless
        ``last``: then it is numbered as a new one (in the same statement: a write that fails
        leaves the one before as it was)."""
        text = json.dumps(doc)
        self._write(
            kind,
            "INSERT INTO docs (kind, key, doc, seq) VALUES (?, ?, ?,"
            " (SELECT COALESCE(MAX(seq), 0) + 1 FROM docs))"
            " ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc"
            + (", seq = excluded.seq" if last else ""),
            (kind, name.lower(), text),
        )

    def delete(self, kind: str, name: str) -> None:
        self._write(kind, "DELETE FROM docs WHERE kind = ? AND key = ?", (kind, name.lower()))

    def writes(self, kind: str) -> int:
        """How many documents of ``kind`` were written (or deleted) since the start."""
        return self._writes.get(kind, 0)

    def watch(self, kind: str) -> Watch:
        return Watch(self, kind)

    def _write(self, kind: str, sql: str, args: tuple[str, ...]) -> None:
        """One statement in its own transaction: it is saved whole or not at all. Its kind's
        watchers are woken once it is saved."""
        try:
            with self._lock:
                self._db.execute(sql, args)
        except sqlite3.OperationalError as e:
            raise StateNotSaved(
                f"The local cloud could not save its state in {self.path} ({e}); nothing was "
                "changed. Free space in the state dir (CDLAB_HOME) and try again."
            ) from e
        with self.written:
            self._writes[kind] = self.writes(kind) + 1
            self.written.notify_all()

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Every document of ``kind``, in creation order."""
        return [doc for _, doc in self.numbered(kind)]

    def numbered(self, kind: str) -> list[tuple[int, dict[str, Any]]]:
        """Every document of ``kind`` with its creation number (a later document's is larger;
        an update keeps it), in creation order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, doc FROM docs WHERE kind = ? ORDER BY seq", (kind,)
            ).fetchall()
        return [(row[0], json.loads(row[1])) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
