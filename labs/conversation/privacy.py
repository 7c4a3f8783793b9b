"""Privacy: an AES-GCM payload codec, a codec server for the Web UI, and a search of the server's database file.

The codec encrypts every payload (inputs, results, signals, updates, memos) before it leaves the process, so the
Temporal server and its database hold those only as ciphertext. Not encrypted: ids, type names and search
attributes (never), headers (not by default: HeaderCodecBehavior.NO_CODEC in temporalio/common.py), failure
messages and stack traces (unless the failure converter encodes them, as `encrypted_converter` does:
DefaultFailureConverterWithEncodedAttributes in temporalio/converter/_failure_converter.py). The Web UI shows plaintext to its user by sending payloads to a codec server
(`temporal server start-dev --ui-codec-endpoint http://127.0.0.1:PORT`, or the UI's "Codec Server" setting):
POST /encode and /decode with `{"payloads": [...]}` (payloads in protobuf JSON), CORS allowed for the UI.
Protocol: docs.temporal.io/production-deployment/data-encryption and samples-python `encryption/codec_server.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

ENCODING = b"binary/encrypted"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM on every payload; `key_id` is recorded so keys can be rotated. Raises ValueError on a wrong key."""

    def __init__(self, key: bytes, key_id: str = "lab-key-1") -> None:
        if len(key) != 32:
            raise ValueError("EncryptionCodec needs a 32-byte key (AESGCM.generate_key(bit_length=256)).")
        self.aes, self.key_id = AESGCM(key), key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        """One payload in, one encrypted payload out (12-byte nonce + ciphertext + tag)."""
        nonce = os.urandom(12)
        data = nonce + self.aes.encrypt(nonce, payload.SerializeToString(), None)
        return Payload(metadata={"encoding": ENCODING, "encryption-key-id": self.key_id.encode()}, data=data)

    def decrypt(self, payload: Payload) -> Payload:
        """The inverse of `encrypt`; payloads that are not encrypted pass through."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        if payload.metadata.get("encryption-key-id", b"").decode() != self.key_id:
            raise ValueError(f"Unknown encryption key id {payload.metadata['encryption-key-id']!r}.")
        plain = Payload()
        plain.ParseFromString(self.aes.decrypt(payload.data[:12], payload.data[12:], None))
        return plain


def encrypted_converter(codec: EncryptionCodec) -> DataConverter:
    """The default data converter with `codec` applied to every payload, failure messages and stack traces included."""
    return dataclasses.replace(DataConverter.default, payload_codec=codec,
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


class CodecServer:
    """The Web UI's codec endpoint on 127.0.0.1 (a free port): POST /encode, /decode. Use as a context manager."""

    def __init__(self, codec: PayloadCodec, allow_origin: str = "*") -> None:
        self.codec, self.allow_origin = codec, allow_origin
        self.httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None, "start() the codec server first"
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "CodecServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", server.allow_origin)
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "content-type, x-namespace")

            def do_OPTIONS(self) -> None:  # noqa: N802 - the browser's CORS preflight
                self.send_response(200)
                self._cors()
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                if self.path not in ("/encode", "/decode"):
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                payloads = json_format.Parse(body, Payloads())
                work = server.codec.encode if self.path == "/encode" else server.codec.decode
                try:
                    result = asyncio.run(work(payloads.payloads))
                except Exception as e:  # noqa: BLE001 - a wrong key or a corrupt payload
                    self.send_error(400, str(e)[:200])
                    return
                out = json_format.MessageToJson(Payloads(payloads=result)).encode()
                self.send_response(200)
                self._cors()
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:  # keep notebook cells quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, name="codec-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self) -> "CodecServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def post(url: str, payloads: Sequence[Payload]) -> list[Payload]:
    """What the Web UI does: POST payloads (protobuf JSON) to a codec endpoint, read the answer."""
    import urllib.request

    body = json_format.MessageToJson(Payloads(payloads=list(payloads))).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json",
                                                                              "x-namespace": "default"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return list(json_format.Parse(response.read(), Payloads()).payloads)


def database_contains(db_file: str | Path, phrase: str) -> bool:
    """True if `phrase` (UTF-8) occurs anywhere in the server's SQLite files (the db and its -wal/-shm)."""
    needle = phrase.encode()
    files = [Path(db_file)] + [Path(f"{db_file}{suffix}") for suffix in ("-wal", "-shm", "-journal")]
    return any(needle in f.read_bytes() for f in files if f.exists())
