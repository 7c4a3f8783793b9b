"""Chunks, embeddings and the embedded vector store (sqlite-vec, loaded through apsw).

The standard library's `sqlite3` on many Pythons (this lab's included) cannot load extensions, so the store
opens its SQLite file with `apsw`, which can. Offline, `hash_embed` turns words into a fixed-size vector
(feature hashing), enough for retrieval to find the chunk that shares a question's words.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import apsw
import sqlite_vec

from .search import tokens

DIM = 512


@dataclass
class Chunk:
    id: str  # "<doc id>#<n>"
    doc_id: str
    text: str


def chunk(doc_id: str, text: str, words: int = 45, overlap: int = 8) -> list[Chunk]:
    """Split a document into chunks of about `words` words with `overlap` words shared by neighbours."""
    ws = text.split()
    out, start, n = [], 0, 0
    while start < len(ws):
        out.append(Chunk(f"{doc_id}#{n}", doc_id, " ".join(ws[start:start + words])))
        if start + words >= len(ws):
            break
        start, n = start + words - overlap, n + 1
    return out


def hash_embed(text: str, dim: int = DIM) -> list[float]:
    """A unit-length vector of `dim` floats: each word (and word pair) hashed into a signed bucket, log-weighted."""
    vec = [0.0] * dim
    ts = tokens(text)
    for feature in ts + [f"{a} {b}" for a, b in zip(ts, ts[1:])]:
        h = zlib.crc32(feature.encode())
        vec[h % dim] += (1.0 if (h >> 16) & 1 else -1.0) * (1.0 if " " not in feature else 0.5)
    vec = [math.copysign(math.log1p(abs(v)), v) for v in vec]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


class VectorStore:
    """A sqlite-vec `vec0` table in a SQLite file: add chunks with their vectors, query nearest by cosine."""

    def __init__(self, path: str | Path, dim: int) -> None:
        self.path, self.dim = Path(path), dim
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = apsw.Connection(str(self.path))
        self.db.set_busy_timeout(10_000)
        self.db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        self.db.enable_load_extension(True)
        self.db.load_extension(sqlite_vec.loadable_path())
        self.db.enable_load_extension(False)
        self.table = f"chunks_{dim}"
        self.db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.table} USING vec0("
                        f"chunk_id TEXT PRIMARY KEY, embedding float[{dim}] distance_metric=cosine, "
                        f"+doc_id TEXT, +text TEXT)")

    def add(self, chunks: list[Chunk], vectors: list[list[float]]) -> int:
        """Store chunks not stored yet (idempotent: a retried step adds nothing twice); returns how many were new."""
        new = 0
        # BEGIN IMMEDIATE takes the write lock first: two executors storing at once queue up instead of
        # deadlocking (two deferred transactions that both read, then both want to write).
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for c, v in zip(chunks, vectors):
                if self.db.execute(f"SELECT 1 FROM {self.table} WHERE chunk_id = ?", (c.id,)).fetchone():
                    continue
                self.db.execute(f"INSERT INTO {self.table}(chunk_id, embedding, doc_id, text) VALUES (?,?,?,?)",
                                (c.id, sqlite_vec.serialize_float32(v), c.doc_id, c.text))
                new += 1
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return new

    def query(self, vector: list[float], k: int = 3, doc_ids: list[str] | None = None) -> list[tuple[Chunk, float]]:
        """The `k` nearest chunks (optionally only from `doc_ids`) with their cosine distance, nearest first."""
        rows = self.db.execute(
            f"SELECT chunk_id, doc_id, text, distance FROM {self.table} WHERE embedding MATCH ? AND k = ? "
            "ORDER BY distance", (sqlite_vec.serialize_float32(vector), max(k * 10, 50))).fetchall()
        hits = [(Chunk(cid, did, text), float(dist)) for cid, did, text, dist in rows
                if doc_ids is None or did in doc_ids]
        return hits[:k]

    def close(self) -> None:
        """Close the SQLite connection."""
        self.db.close()
