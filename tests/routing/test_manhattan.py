"""The Manhattan ride-sharing benchmark graph (``.xy`` + ``.d``) and its reader's errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import routing
from routing import InvalidArgumentError, NetworkFileError

MILE_M = 1609.344


def write_benchmark(folder: Path, xy_lines: list[str], d_lines: list[str], stem: str = "Tiny") -> Path:
    """Write a small ``<stem>.xy`` / ``<stem>.d`` pair (each list starts with its count line)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.xy").write_text("\n".join(xy_lines) + "\n")
    (folder / f"{stem}.d").write_text("\n".join(d_lines) + "\n")
    return folder


#: Four nodes on a unit square (coordinates in miles), a two-way ring, one duplicate arc
#: (the slower copy must go) and one self-loop.
GOOD_XY = ["4", "0 0.0 0.0", "1 1.0 0.0", "2 1.0 1.0", "3 0.0 1.0"]
GOOD_D = [
    "10",
    "0 1 10.4",
    "1 0 10.6",
    "1 2 20",
    "2 1 20",
    "2 3 30",
    "3 2 30",
    "3 0 40",
    "0 3 40",
    "0 1 12",
    "2 2 5",
]


def read_error(folder_or_path: Path) -> NetworkFileError:
    with pytest.raises(NetworkFileError) as info:
        routing.read_manhattan(folder_or_path)
    assert info.value.reason
    return info.value


# ---------------------------------------------------------------------------- the real graph
def test_manhattan_loads(manhattan_net, data_dir):
    assert manhattan_net.num_nodes == 4333
    assert manhattan_net.name == "Manhattan"
    # The file's 9,509 arcs less self-loops and duplicate pairs, counted here from the file.
    arcs = np.loadtxt(data_dir / "rideshare" / "manhattan" / "Manhattan.d", skiprows=1)
    assert arcs.shape == (9509, 3)
    tail, head = arcs[:, 0].astype(np.int64), arcs[:, 1].astype(np.int64)
    proper = tail != head
    distinct_pairs = np.unique(tail[proper] * 4333 + head[proper]).size
    assert manhattan_net.num_edges == distinct_pairs
    assert 9300 < manhattan_net.num_edges <= 9509
    assert manhattan_net.travel_time_s.min() >= 1


def fastest_arcs(data_dir: Path) -> dict[tuple[int, int], float]:
    """The fastest travel time of each ordered node pair in Manhattan.d (self-loops left out)."""
    arcs = np.loadtxt(data_dir / "rideshare" / "manhattan" / "Manhattan.d", skiprows=1)
    fastest: dict[tuple[int, int], float] = {}
    for u, v, t in arcs:
        if u != v:
            key = (int(u), int(v))
            fastest[key] = min(fastest.get(key, np.inf), t)
    return fastest


def edge_times(net: routing.RoadNetwork) -> dict[tuple[int, int], int]:
    return {(int(u), int(v)): int(t) for u, v, t in zip(net.tail, net.indices, net.travel_time_s, strict=True)}


def test_manhattan_keeps_the_fastest_of_each_arc_pair(manhattan_net, data_dir):
    fastest = fastest_arcs(data_dir)
    got = edge_times(manhattan_net)
    assert got.keys() == fastest.keys()
    # Read as tenths of a second (the default time unit), rounded to whole seconds, at least 1.
    assert got == {k: max(1, int(np.rint(t * routing.MANHATTAN_TIME_UNIT_S))) for k, t in fastest.items()}


def test_manhattan_coordinates_and_lengths(manhattan_net, data_dir):
    xy = np.loadtxt(data_dir / "rideshare" / "manhattan" / "Manhattan.xy", skiprows=1)
    order = np.argsort(xy[:, 0])
    np.testing.assert_allclose(manhattan_net.x_m, xy[order, 1] * MILE_M)
    np.testing.assert_allclose(manhattan_net.y_m, xy[order, 2] * MILE_M)
    straight = np.hypot(
        manhattan_net.x_m[manhattan_net.tail] - manhattan_net.x_m[manhattan_net.indices],
        manhattan_net.y_m[manhattan_net.tail] - manhattan_net.y_m[manhattan_net.indices],
    )
    assert np.all(np.abs(manhattan_net.length_m - straight) <= 0.5 + 1e-9)
    assert np.all(np.isnan(manhattan_net.lat)) and manhattan_net.crs == ""
    assert manhattan_net.meta["format"] == "xy+d"


def test_manhattan_can_be_named_by_file_or_stem(manhattan_net, data_dir):
    folder = data_dir / "rideshare" / "manhattan"
    for path in (folder / "Manhattan.xy", folder / "Manhattan.d", folder / "Manhattan"):
        net = routing.read_manhattan(path)
        assert np.array_equal(net.indices, manhattan_net.indices)
        assert np.array_equal(net.travel_time_s, manhattan_net.travel_time_s)


def test_manhattan_time_unit_rescales_times(manhattan_net, data_dir):
    net = routing.read_manhattan(data_dir / "rideshare" / "manhattan", time_unit_s=10.0)
    assert np.array_equal(net.indices, manhattan_net.indices)
    assert edge_times(net) == {k: max(1, int(np.rint(10.0 * t))) for k, t in fastest_arcs(data_dir).items()}
    assert net.meta["time_unit_s"] == 10.0


# ---------------------------------------------------------------------------- small synthetic files
def test_small_benchmark_graph(tmp_path):
    net = routing.read_manhattan(write_benchmark(tmp_path / "tiny", GOOD_XY, GOOD_D), time_unit_s=1.0)
    edges = {
        (int(u), int(v)): (int(t), int(ln))
        for u, v, t, ln in zip(net.tail, net.indices, net.travel_time_s, net.length_m, strict=True)
    }
    mile = round(MILE_M)
    assert edges == {
        (0, 1): (10, mile),
        (1, 0): (11, mile),
        (1, 2): (20, mile),
        (2, 1): (20, mile),
        (2, 3): (30, mile),
        (3, 2): (30, mile),
        (3, 0): (40, mile),
        (0, 3): (40, mile),
    }
    assert net.name == "Tiny"
    assert not net.has_lat_lon


def test_node_ids_may_come_in_any_order(tmp_path):
    xy = ["4", "2 1.0 1.0", "0 0.0 0.0", "3 0.0 1.0", "1 1.0 0.0"]
    net = routing.read_manhattan(write_benchmark(tmp_path / "shuffled", xy, GOOD_D))
    np.testing.assert_allclose(net.x_m, np.array([0.0, 1.0, 1.0, 0.0]) * MILE_M)
    np.testing.assert_allclose(net.y_m, np.array([0.0, 0.0, 1.0, 1.0]) * MILE_M)


def test_missing_folder(tmp_path):
    err = read_error(tmp_path / "nowhere")
    assert "not found" in err.reason


def test_folder_without_an_xy_file(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    err = read_error(folder)
    assert "no .xy file" in err.reason
    assert err.path == str(folder)


def test_missing_arc_file(tmp_path):
    folder = write_benchmark(tmp_path / "no_arcs", GOOD_XY, GOOD_D)
    (folder / "Tiny.d").unlink()
    err = read_error(folder)
    assert "not found" in err.reason
    assert err.path.endswith("Tiny.d")


def test_arc_count_header_disagrees_with_the_file(tmp_path):
    err = read_error(write_benchmark(tmp_path / "count", GOOD_XY, ["12", *GOOD_D[1:]]))
    assert "header says 12" in err.reason and "10" in err.reason
    assert err.path.endswith("Tiny.d")


def test_node_count_header_disagrees_with_the_file(tmp_path):
    err = read_error(write_benchmark(tmp_path / "count", ["3", *GOOD_XY[1:]], GOOD_D))
    assert "header says 3" in err.reason
    assert err.path.endswith("Tiny.xy")


def test_header_with_more_than_a_count(tmp_path):
    err = read_error(write_benchmark(tmp_path / "header", GOOD_XY, ["10 3", *GOOD_D[1:]]))
    assert "first line" in err.reason


def test_non_numeric_arc(tmp_path):
    d = [*GOOD_D]
    d[3] = "1 2 fast"
    err = read_error(write_benchmark(tmp_path / "text", GOOD_XY, d))
    assert "corrupt arc file" in err.reason


def test_non_numeric_count(tmp_path):
    err = read_error(write_benchmark(tmp_path / "text", ["four", *GOOD_XY[1:]], GOOD_D))
    assert "corrupt node file" in err.reason


def test_wrong_number_of_columns(tmp_path):
    d = ["2", "0 1", "1 0"]
    err = read_error(write_benchmark(tmp_path / "columns", GOOD_XY, d))
    assert "3 columns" in err.reason


@pytest.mark.parametrize("bad_arc", ["0 4 10", "4 0 10", "-1 2 10"], ids=["head-too-big", "tail-too-big", "negative"])
def test_arc_endpoint_out_of_range(tmp_path, bad_arc):
    err = read_error(write_benchmark(tmp_path / "range", GOOD_XY, ["11", *GOOD_D[1:], bad_arc]))
    assert "outside 0 .. 3" in err.reason


def test_wrong_header_count_after_fixing_the_arc_list(tmp_path):
    # Appending an arc without updating the count is a count error, not a range error.
    err = read_error(write_benchmark(tmp_path / "range", GOOD_XY, [*GOOD_D, "0 4 10"]))
    assert "header says 10" in err.reason


@pytest.mark.parametrize("time", ["0", "-3"])
def test_non_positive_travel_time(tmp_path, time):
    d = [*GOOD_D]
    d[1] = f"0 1 {time}"
    err = read_error(write_benchmark(tmp_path / "time", GOOD_XY, d))
    assert "travel times must be > 0" in err.reason


def test_node_ids_with_a_gap(tmp_path):
    xy = ["4", "0 0.0 0.0", "1 1.0 0.0", "2 1.0 1.0", "7 0.0 1.0"]
    err = read_error(write_benchmark(tmp_path / "gap", xy, GOOD_D))
    assert "0 .. 3" in err.reason


def test_arcs_that_are_all_self_loops(tmp_path):
    err = read_error(write_benchmark(tmp_path / "loops", GOOD_XY, ["2", "0 0 3", "1 1 3"]))
    assert "no usable road network" in err.reason


@pytest.mark.parametrize(
    ("field", "kwargs"), [("time_unit_s", {"time_unit_s": 0}), ("coord_unit_m", {"coord_unit_m": -1})]
)
def test_bad_units(tmp_path, field, kwargs):
    folder = write_benchmark(tmp_path / "units", GOOD_XY, GOOD_D)
    with pytest.raises(InvalidArgumentError) as info:
        routing.read_manhattan(folder, **kwargs)
    assert info.value.field == field
