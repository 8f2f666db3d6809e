"""Where derived data (built networks, contraction hierarchies) are cached on disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$MOBILITY_CACHE_DIR``, else ``$XDG_CACHE_HOME/mobility-engine``, else ``~/.cache/mobility-engine``."""
    env = os.environ.get("MOBILITY_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mobility-engine"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
