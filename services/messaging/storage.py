"""Attachment contents on disk, under generated names.

``<data>/messaging/attachments/<ab>/<uuid>.bin``: outside the gateway's static
folder and anything else served directly; the member's file name is only
metadata in the database. Written once (temporary file + atomic rename,
read-only), checked against its SHA-256 when read.
"""
from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

_NAME = re.compile(r"[0-9a-f]{32}\.bin")


class AttachmentStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a storage name: {name!r}")
        return self.root / name[:2] / name

    def put(self, content: bytes) -> str:
        name = f"{uuid.uuid4().hex}.bin"
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o440)
        os.replace(temporary, path)
        return name

    def get(self, name: str, sha256: str) -> bytes:
        content = self._path(name).read_bytes()
        if hashlib.sha256(content).hexdigest() != sha256:
            raise OSError(f"attachment {name} does not match its hash")
        return content

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            pass
