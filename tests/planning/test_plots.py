"""Maps and fronts: PNG files of the expected size, with the routes' colours drawn; bad paths in one line."""

from __future__ import annotations

import csv
import struct
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from planning import TransitProblem, read_cec, read_published_route_sets
from planning.errors import InvalidArgumentError, PlanningFileError
from planning.frequencies import set_frequencies
from planning.plots import ROUTE_COLOURS, plot_front, plot_routes

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def has_colour(image: np.ndarray, colour: str, tol: float = 0.03) -> bool:
    rgb = np.array(to_rgb(colour))
    return bool((np.abs(image[..., :3] - rgb).max(axis=-1) < tol).sum() >= 20)


@pytest.fixture(scope="module")
def mandl(data_dir: Path) -> TransitProblem:
    return read_cec(data_dir / "tndp" / "Mandl")


@pytest.fixture(scope="module")
def mandl_routes(data_dir: Path) -> list[list[int]]:
    sets = read_published_route_sets(data_dir / "tndp" / "literature" / "mandl_published_route_sets.txt")
    return next(rs for _, rs in sets if len(rs) == 6)


def test_route_map(tmp_path: Path, mandl: TransitProblem, mandl_routes) -> None:
    freq = set_frequencies(mandl, mandl_routes, fleet=30)
    path = plot_routes(mandl, mandl_routes, tmp_path / "maps" / "mandl.png", title="Mandl", frequencies=freq)
    assert png_size(path) == (880, 880)
    assert 20_000 < path.stat().st_size < 2_000_000
    image = imread(path)
    for colour in ROUTE_COLOURS[:6]:
        assert has_colour(image, colour), colour
    assert not has_colour(image, ROUTE_COLOURS[6])  # a seventh route's colour is not drawn
    plain = plot_routes(mandl, mandl_routes[:3], tmp_path / "plain.png")
    image = imread(plain)
    assert has_colour(image, ROUTE_COLOURS[2]) and not has_colour(image, ROUTE_COLOURS[3])


def test_front(tmp_path: Path, data_dir: Path) -> None:
    with open(data_dir / "tndp" / "literature" / "Mandl6_best_passenger.csv") as fh:
        published = [(float(r["f1_ATT"]), float(r["f2_TRT"])) for r in csv.DictReader(fh)]
    ours = [(10.3, 210.0), (10.6, 180.0), (11.5, 150.0), (13.0, 95.0)]
    path = plot_front(ours, tmp_path / "front.png", anchors={"published (best passenger)": published}, title="Mandl")
    assert png_size(path) == (770, 550)
    assert path.stat().st_size > 15_000
    image = imread(path)
    assert has_colour(image, "#1f77b4") and has_colour(image, ROUTE_COLOURS[1])
    only_anchor = plot_front([], tmp_path / "a.png", anchors={"x": published})
    assert png_size(only_anchor) == (770, 550)


def test_bad_paths_and_points(tmp_path: Path, mandl: TransitProblem, mandl_routes) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PlanningFileError, match=r"file/map\.png: cannot write the image"):
        plot_routes(mandl, mandl_routes, blocker / "map.png")
    with pytest.raises(PlanningFileError, match=r"file/f\.png: cannot write the image"):
        plot_front([(1.0, 2.0)], blocker / "f.png")
    with pytest.raises(PlanningFileError, match=r": cannot write the image"):
        plot_front([(1.0, 2.0)], tmp_path)  # a folder
    with pytest.raises(InvalidArgumentError, match=r"^points"):
        plot_front([(1.0, 2.0, 3.0)], tmp_path / "f.png")
    with pytest.raises(InvalidArgumentError, match=r"^points: no points"):
        plot_front([], tmp_path / "f.png")
    with pytest.raises(InvalidArgumentError, match=r"^anchors\['x'\]"):
        plot_front([(1.0, 2.0)], tmp_path / "f.png", anchors={"x": [(1.0, float("nan"))]})
