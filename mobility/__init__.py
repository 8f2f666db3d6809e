"""The ``mobility`` command line and project-wide defaults.

The engine's code lives in the packages ``routing``, ``matching``, ``sim`` and ``engine``, the
API schema in ``proto`` (see ARCHITECTURE.md); this package only holds the command line, which has to reach all of
them (``engine`` may not import ``sim``), and the location of the reference data.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "REPO_ROOT",
    "SCENARIOS_DIR",
    "__version__",
    "bundled_city_osm",
    "bundled_scenario_names",
    "default_data_dir",
    "scenario_path",
]

__version__ = "0.1.0"

#: The repository root when the project is installed from a checkout (editable install).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The bundled scenario files.
SCENARIOS_DIR = REPO_ROOT / "scenarios"


def default_data_dir() -> Path:
    """``$MOBILITY_DATA_DIR``, else ``../shared/data`` beside the repository."""
    env = os.environ.get("MOBILITY_DATA_DIR")
    if env:
        return Path(env)
    return (REPO_ROOT / ".." / "shared" / "data").resolve()


def bundled_city_osm(data_dir: Path | None = None) -> Path:
    """The OSM extract that the demo runs on: Seoul Jamsil (an I-MOD-sized zone)."""
    return (data_dir or default_data_dir()) / "osm" / "seoul_jamsil.osm"


def bundled_scenario_names() -> list[str]:
    """The simulator's bundled scenarios: ``scenarios/*.toml`` but the planning specs ``plan_*.toml``."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.toml") if not p.stem.startswith("plan_"))


def scenario_path(name: str) -> Path:
    """A scenario file (``.toml`` or any existing path), or the bundled scenario of that name.

    Raises:
        matching.errors.InvalidValueError: (field ``scenario``) neither exists; the bundled
            names are listed.
    """
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        return path
    bundled = SCENARIOS_DIR / f"{name}.toml"
    if bundled.exists():
        return bundled
    from matching.errors import InvalidValueError

    known = ", ".join(bundled_scenario_names())
    raise InvalidValueError("scenario", f"no file {name!r} and no bundled scenario of that name", known)
