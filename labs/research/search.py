"""A small search service over the corpus: BM25 ranking (rank-bm25) behind real HTTP on 127.0.0.1.

`SearchService(corpus).start()` serves `GET /search?q=...&k=3` -> `{"hits": [{id, title, file, score}]}`.
Like the lab's model server it fails on request: `fail(429, retry_after=1)`, `fail(500, times=2)`, `fail(400)`,
`slow(seconds)`; `requests()` is its request log (one row per HTTP request, wall-clock times).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pandas as pd

from lab_support.server import LabError

from .corpus import load_manifest, read_document

_WORD = re.compile(r"[a-z0-9]+")
STOP = set("a an and are as at be by can does for from has how in is it its of on or that the their then this to "
           "what when which why with will would do not it's so they them than into each".split())


def tokens(text: str) -> list[str]:
    """Lower-case words without stop words, a trailing plural 's' dropped (shapes: str -> list[str])."""
    out = []
    for w in _WORD.findall(text.lower()):
        if w in STOP:
            continue
        if len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


class SearchService:
    """The corpus's search engine as a threaded HTTP server on a free loopback port."""

    def __init__(self, corpus: str | Path) -> None:
        from rank_bm25 import BM25Okapi

        self.corpus = Path(corpus)
        self.docs = load_manifest(self.corpus)  # LabError for a missing or empty corpus
        texts = []
        for d in self.docs:
            try:
                texts.append(f"{d['title']} {read_document(self.corpus, d['file'])}")
            except Exception:  # noqa: BLE001 - an unreadable file is still findable by its title
                texts.append(d["title"])
        self.bm25 = BM25Okapi([tokens(t) for t in texts])
        self._faults: list[dict[str, Any]] = []
        self._log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- fault injection ------------------------------------------------------------------------
    def fail(self, status: int, times: int = 1, retry_after: float | None = None) -> "SearchService":
        """The next `times` searches answer HTTP `status` (429 with a Retry-After header if given)."""
        with self._lock:
            self._faults.append({"status": status, "times": times, "retry_after": retry_after})
        return self

    def slow(self, seconds: float, times: int = 1) -> "SearchService":
        """The next `times` searches answer only after `seconds`."""
        with self._lock:
            self._faults.append({"delay": seconds, "times": times})
        return self

    def _take(self) -> dict[str, Any] | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault["times"] -= 1
            if fault["times"] <= 0:
                self._faults.pop(0)
            return dict(fault)

    # -- the service ----------------------------------------------------------------------------
    def search(self, query: str, k: int = 3) -> list[dict[str, Any]]:
        """The `k` best documents for `query` by BM25 (score > 0), best first."""
        scores = self.bm25.get_scores(tokens(query))
        order = sorted(range(len(self.docs)), key=lambda i: -scores[i])[:k]
        return [{**self.docs[i], "score": round(float(scores[i]), 4)} for i in order if scores[i] > 0]

    @property
    def url(self) -> str:
        """Base URL of the running service."""
        if self._server is None:
            raise LabError("The search service is not running. Fix: call `.start()` first.")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "SearchService":
        """Serve on a free port of 127.0.0.1 in a background thread."""
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # no noise on stderr
                pass

            def do_GET(self) -> None:  # noqa: N802
                started = time.time()
                parsed = urlparse(self.path)
                args = parse_qs(parsed.query)
                query = (args.get("q") or [""])[0]
                row = {"path": parsed.path, "query": query, "start": started, "fault": None}
                if parsed.path == "/health":
                    return self._send(200, {"ok": True, "documents": len(service.docs)}, row, log=False)
                if parsed.path != "/search":
                    return self._send(404, {"error": "no such endpoint"}, row)
                fault = service._take()
                if fault and "delay" in fault:
                    row["fault"] = f"slow {fault['delay']:g}s"
                    time.sleep(fault["delay"])
                elif fault:
                    row["fault"] = str(fault["status"])
                    headers = {"Retry-After": f"{fault['retry_after']:g}"} if fault.get("retry_after") else {}
                    return self._send(fault["status"], {"error": f"injected {fault['status']}"}, row, headers)
                if not query.strip():
                    return self._send(400, {"error": "empty query: pass q=<words>"}, row)
                try:
                    k = int((args.get("k") or ["3"])[0])
                except ValueError:
                    return self._send(400, {"error": "k must be an integer"}, row)
                self._send(200, {"hits": service.search(query, k)}, row)

            def _send(self, status: int, body: dict[str, Any], row: dict[str, Any],
                      headers: dict[str, str] | None = None, log: bool = True) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
                if log:
                    with service._lock:
                        service._log.append({**row, "status": status, "end": time.time()})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="search-service", daemon=True).start()
        return self

    def requests(self) -> pd.DataFrame:
        """The request log: one row per search request (path, query, status, fault, start, end)."""
        with self._lock:
            rows = list(self._log)
        return pd.DataFrame(rows, columns=["path", "query", "status", "fault", "start", "end"])

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "SearchService":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
