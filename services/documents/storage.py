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

    def put_many(self, contents: list[bytes]) -> list[str]:
        """Store several contents; their SHA-256 in the same order. Every one is
        durably stored when this returns (an implementation may flush them
        together: cheaper than one by one)."""
        return [self.put(content) for content in contents]

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
        return self.put_many([content])[0]

    def put_many(self, contents: list[bytes]) -> list[str]:
        """Each new content is written to a temporary file; then ONE trip to a
        real thread flushes them all to disk (fsync), and only then is each
        renamed to its address. Why: an fsync per document, each with its own
        thread hop, cost more CPU than anything else in storing a batch's
        documents, and the caller commits the rows pointing at them only once
        they are all on disk anyway."""
        digests: list[str] = []
        pending: dict[str, tuple] = {}  # digest -> (open temporary file, its name, address)
        try:
            for content in contents:
                if not isinstance(content, (bytes, bytearray)):
                    raise TypeError("content must be bytes")
                digest = hashlib.sha256(content).hexdigest()
                digests.append(digest)
                path = self._path(digest)
                if digest in pending or path.exists():
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
                fh = os.fdopen(fd, "wb")
                pending[digest] = (fh, tmp, path)
                fh.write(content)
                fh.flush()
            if pending:
                files.in_thread(_fsync_all, [fh.fileno() for fh, _, _ in pending.values()])
            while pending:
                _, (fh, tmp, path) = pending.popitem()
                fh.close()
                os.chmod(tmp, 0o444)
                os.replace(tmp, path)
        except BaseException:
            for fh, tmp, _ in pending.values():
                fh.close()
                if os.path.exists(tmp):
                    os.unlink(tmp)
            raise
        return digests

    def get(self, sha256: str) -> bytes:
        content = self._path(sha256).read_bytes()
        if hashlib.sha256(content).hexdigest() != sha256:
            raise StoredContentCorrupted(f"stored content {sha256} does not match its hash")
        return content

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()


def _fsync_all(fds: list[int]) -> None:
    for fd in fds:
        os.fsync(fd)


# the name the service used before the interface existed
ContentStore = FilesystemStore
