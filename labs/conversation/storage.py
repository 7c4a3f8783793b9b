"""Claim check: payloads above a size threshold go to a folder; the history keeps only a small reference.

Uses the SDK's external storage (`temporalio.converter.ExternalStorage`, experimental in 1.35) with a
`StorageDriver` of our own. Files are named by the SHA-256 of their content, so a retried write is harmless.
A real deployment would write to S3/GCS (the SDK ships drivers in `temporalio.contrib.aws` / `gcp`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from pathlib import Path
from typing import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import (
    DataConverter,
    ExternalStorage,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)


class FolderDriver(StorageDriver):
    """A storage driver that keeps each payload as one file `<sha256>.bin` in `folder`."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def name(self) -> str:
        return "local-folder"

    def _write(self, payload: Payload) -> StorageDriverClaim:
        data = payload.SerializeToString()
        digest = hashlib.sha256(data).hexdigest()
        path = self.folder / f"{digest}.bin"
        if not path.exists():
            tmp = path.with_suffix(f".tmp{id(data)}")
            tmp.write_bytes(data)
            tmp.replace(path)  # atomic: a reader never sees half a file
        return StorageDriverClaim({"sha256": digest})

    def _read(self, claim: StorageDriverClaim) -> Payload:
        path = self.folder / f"{claim.claim_data['sha256']}.bin"
        payload = Payload()
        payload.ParseFromString(path.read_bytes())
        return payload

    async def store(self, context: StorageDriverStoreContext, payloads: Sequence[Payload]) -> list[StorageDriverClaim]:
        return await asyncio.to_thread(lambda: [self._write(p) for p in payloads])

    async def retrieve(self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]) -> list[Payload]:
        return await asyncio.to_thread(lambda: [self._read(c) for c in claims])


def claim_check_converter(folder: str | Path, threshold: int = 4096) -> DataConverter:
    """The default data converter plus external storage: payloads of `threshold` bytes or more go to `folder`."""
    storage = ExternalStorage(drivers=[FolderDriver(folder)], payload_size_threshold=threshold)
    return dataclasses.replace(DataConverter.default, external_storage=storage)


def with_converter(client: Client, converter: DataConverter) -> Client:
    """A client on the same connection and namespace, with another data converter (its workers use it too)."""
    return Client(client.service_client, namespace=client.namespace, data_converter=converter)
