"""SHA-256 of files: weights (model identity in stream headers) and cache manifests."""

from __future__ import annotations

import hashlib
import os


def file_sha256(path: os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
