"""The ``mobility`` command line and project-wide defaults.

The engine's code lives in the packages ``routing``, ``matching``, ``sim`` and ``engine``, the
API schema in ``proto`` (see ARCHITECTURE.md); this package only holds the command line, which has to reach all of
them (``engine`` may not import ``sim``), and the location of the reference data.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO_ROOT", "__version__", "bundled_city_osm", "default_data_dir"]

__version__ = "0.1.0"

#: The repository root when the project is installed from a checkout (editable install).
REPO_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """``$MOBILITY_DATA_DIR``, else ``../shared/data`` beside the repository."""
    env = os.environ.get("MOBILITY_DATA_DIR")
    if env:
        return Path(env)
    return (REPO_ROOT / ".." / "shared" / "data").resolve()


def bundled_city_osm(data_dir: Path | None = None) -> Path:
    """The OSM extract that the demo runs on: Seoul Jamsil (an I-MOD-sized zone)."""
    return (data_dir or default_data_dir()) / "osm" / "seoul_jamsil.osm"
