"""Content storage of issued documents, addressed by their SHA-256.

``DocumentStore`` is the small interface the service uses (put / get /
exists); ``FilesystemStore`` implements it under a folder (the data folder
locally, a shared volume in production). An object-storage implementation
only needs the same three methods.

Immutable by construction: a document's address is the hash of its content,
written once through a temporary file and an atomic rename, never rewritten
(writing the same content again - a retried event - changes nothing), and
checked against its hash when read back. A new version of a document is new
content under a new address; the metadata (``Document.superseded_by``) links
the versions.
"""
from __future__ import annotations

import abc
import hashlib
import os
import tempfile
from pathlib import Path

from carpimko import files


class StoredContentCorrupted(Exception):
    """What was read back does not have the hash it is stored under."""


def _check_digest(sha256: str) -> str:
    if not isinstance(sha256, str) or len(sha256) != 64 or \
            any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


class DocumentStore(abc.ABC):
    """Where the content of issued documents lives."""

    @abc.abstractmethod
    def put(self, content: bytes) -> str:
        """Store ``content`` (if not already there); return its SHA-256 (hex)."""

    @abc.abstractmethod
    def get(self, sha256: str) -> bytes:
        """The content stored under ``sha256``; FileNotFoundError when absent,
        StoredContentCorrupted when it no longer matches its hash."""

    @abc.abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether content is stored under ``sha256``."""


class FilesystemStore(DocumentStore):
    """``<root>/ab/cd/abcd…`` files, written once, read-only afterwards."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        _check_digest(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, content: bytes) -> str:
        if not isinstance(content, (bytes, bytearray)):
            raise TypeError("content must be bytes")
        digest = hashlib.sha256(content).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                files.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        content = self._path(sha256).read_bytes()
        if hashlib.sha256(content).hexdigest() != sha256:
            raise StoredContentCorrupted(f"stored content {sha256} does not match its hash")
        return content

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()


# the name the service used before the interface existed
ContentStore = FilesystemStore
