"""Postal letters: PDF files dropped in the outgoing letters folder, one per
notification, named after it so a retry rewrites the same file."""
from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path


def letter_path(root: Path, day: date, notification_id: str) -> Path:
    return root / day.isoformat() / f"{notification_id}.pdf"


def write_letter(root: Path, day: date, notification_id: str, pdf: bytes) -> Path:
    path = letter_path(root, day, notification_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(pdf)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
