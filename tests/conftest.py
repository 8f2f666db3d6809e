"""Shared fixtures: the bundled benchmark data, the road networks built from it and routers.

The data live outside the repository, in ``../shared/data`` relative to the repository root
(override with the environment variable ``MOBILITY_DATA_DIR``). They are read in place and
never copied into the repository. Every derived file (network and hierarchy caches) goes to
a temporary directory, so the tests never write to ``~/.cache``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

#: The repository root (this file is ``<root>/tests/conftest.py``).
REPO_ROOT = Path(__file__).resolve().parents[1]

# ``python -m pytest`` (as the Makefile runs it) puts the repository root on sys.path; plain
# ``pytest`` puts only this folder there, and then the folder ``tests/routing`` would be taken
# for the ``routing`` package. With the root on the path the real package wins either way,
# and the helpers import as ``tests.naive``.
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

import routing  # noqa: E402
from routing import RoadNetwork, Router  # noqa: E402

#: Where the shared benchmark data sit when ``MOBILITY_DATA_DIR`` is not set.
DEFAULT_DATA_DIR = REPO_ROOT / ".." / "shared" / "data"

#: Files the routing tests read, relative to the data directory.
REQUIRED_DATA = (
    "osm/seoul_jamsil.osm",
    "osm/seoul_dongjak.osm",
    "osm/helsinki.osm.pbf",
    "rideshare/manhattan/Manhattan.xy",
    "rideshare/manhattan/Manhattan.d",
)

# Hypothesis keeps no example database, and its other files (it caches constants found in
# the source even without one) go to a temporary directory, so that running the tests
# writes nothing into the repository. Set here, before any test module is collected.
settings.register_profile("mobility-tests", database=None)
settings.load_profile("mobility-tests")
_HYPOTHESIS_HOME = Path(tempfile.mkdtemp(prefix="mobility-tests-hypothesis-"))
set_hypothesis_home_dir(_HYPOTHESIS_HOME)


def pytest_unconfigure(config: pytest.Config) -> None:
    set_hypothesis_home_dir(None)
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)


def resolve_data_dir() -> Path:
    """``$MOBILITY_DATA_DIR`` if set, else ``<repo root>/../shared/data``."""
    env = os.environ.get("MOBILITY_DATA_DIR")
    return Path(env).resolve() if env else DEFAULT_DATA_DIR.resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data directory; fails (does not skip) when it or a needed file is missing."""
    path = resolve_data_dir()
    missing = [name for name in REQUIRED_DATA if not (path / name).is_file()]
    if missing:
        pytest.fail(
            f"benchmark data not found: {path} lacks {', '.join(missing)}. "
            "The tests read the shared data in place from ../shared/data (relative to the "
            "repository root); set MOBILITY_DATA_DIR to the data directory if it lives elsewhere.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session", autouse=True)
def isolated_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ``MOBILITY_CACHE_DIR`` at a fresh temporary directory for the whole session."""
    cache = tmp_path_factory.mktemp("mobility-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOBILITY_CACHE_DIR", str(cache))
        yield cache


# ---------------------------------------------------------------------------- networks
@pytest.fixture(scope="session")
def jamsil_net(data_dir: Path, isolated_cache_dir: Path) -> RoadNetwork:
    return routing.load_network(data_dir / "osm" / "seoul_jamsil.osm")


@pytest.fixture(scope="session")
def dongjak_net(data_dir: Path, isolated_cache_dir: Path) -> RoadNetwork:
    return routing.load_network(data_dir / "osm" / "seoul_dongjak.osm")


@pytest.fixture(scope="session")
def helsinki_net(data_dir: Path, isolated_cache_dir: Path) -> RoadNetwork:
    return routing.load_network(data_dir / "osm" / "helsinki.osm.pbf")


@pytest.fixture(scope="session")
def manhattan_net(data_dir: Path, isolated_cache_dir: Path) -> RoadNetwork:
    return routing.read_manhattan(data_dir / "rideshare" / "manhattan")


@pytest.fixture(scope="session")
def synthetic_net(isolated_cache_dir: Path) -> RoadNetwork:
    return routing.synthetic_city(2500, seed=3)


# ---------------------------------------------------------------------------- routers
# Built in memory (``Router(net)``), so that no test depends on the hierarchy cache.
@pytest.fixture(scope="session")
def jamsil_router(jamsil_net: RoadNetwork) -> Router:
    return Router(jamsil_net)


@pytest.fixture(scope="session")
def dongjak_router(dongjak_net: RoadNetwork) -> Router:
    return Router(dongjak_net)


@pytest.fixture(scope="session")
def helsinki_router(helsinki_net: RoadNetwork) -> Router:
    return Router(helsinki_net)


@pytest.fixture(scope="session")
def manhattan_router(manhattan_net: RoadNetwork) -> Router:
    return Router(manhattan_net)


@pytest.fixture(scope="session")
def synthetic_router(synthetic_net: RoadNetwork) -> Router:
    return Router(synthetic_net)
