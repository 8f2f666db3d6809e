"""The report's plots: the vehicles' states (Gantt chart) recounted, the street loads of the map
counted by hand, what the figures show (clock ticks, no degree ticks, hexagon counts), and
every plot written for a day without a zone and for a graph without coordinates."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import routing
from sim.kpi import compute_kpis
from sim.plots import (
    AT_STOP,
    EMPTY,
    IDLE,
    LOADED,
    STATES,
    plot_demand_heatmap,
    plot_map,
    plot_occupancy,
    plot_rejection_heatmap,
    plot_vehicle_gantt,
    street_loads,
    vehicle_states,
)
from sim.records import Drive, SimOutput, StopVisit, VehicleRecord
from sim.report import write_report
from sim.scenario import Scenario
from sim.simulator import Simulation
from tests.sim.sample_day import sample_day

PLOTS = ("wait_times", "occupancy", "vehicle_gantt", "map", "demand_heatmap", "rejection_heatmap")


@pytest.fixture(scope="module")
def real_day(data_dir: Path) -> SimOutput:
    """Two busy hours on Dongjak: two minibuses for 70 requests (some turned away)."""
    doc: dict[str, Any] = {
        "scenario": {"name": "plots-small", "seed": 2, "start": "07:00", "end": "09:00"},
        "network": {"kind": "osm", "path": "osm/seoul_dongjak.osm"},
        "stops": {"kind": "virtual", "spacing_m": 300},
        "fleet": {"vehicles": 2, "seats": 6, "shift_start": "07:00", "shift_end": "09:30"},
        "service": {"max_wait_s": 600, "service_start_s": 6 * 3600, "service_end_s": 23 * 3600},
        "demand": {"kind": "profile", "total": 70, "profile": "flat", "prebook_share": 0.2, "lead_max_min": 2},
        "traffic": {"model": "none"},
        "dispatch": {"reoptimise_every_s": 600, "reoptimise_iterations": 10},
    }
    sim = Simulation(Scenario.from_dict(doc, data_dir=data_dir))
    sim.setup()
    return sim.run()


# ---------------------------------------------------------------------------------- vehicle states
def _check_partition(out: SimOutput) -> None:
    """Per vehicle, the intervals follow one another without gap or overlap from the span's
    start to its end, and none is empty."""
    st = vehicle_states(out)
    shifts = {v.vehicle_id: (v.shift_start_s, v.shift_end_s) for v in out.vehicles}
    for i, vid in enumerate(st.vehicle_ids):
        m = st.vehicle == i
        a, b = st.start_s[m], st.end_s[m]
        assert np.all(b > a)
        assert np.array_equal(a[1:], b[:-1])  # contiguous, in order: no gap, no overlap
        starts = [d.depart_s for d in out.drives if d.vehicle_id == vid]
        starts += [v.arrive_s for v in out.visits if v.vehicle_id == vid]
        ends = [d.arrive_s for d in out.drives if d.vehicle_id == vid]
        ends += [v.depart_s for v in out.visits if v.vehicle_id == vid]
        lo, hi = shifts.get(vid, (min(starts), max(ends)))
        assert a[0] == min([lo, *starts]) and b[-1] == max([hi, *ends])


def test_states_of_the_sample_day_by_hand() -> None:
    out = sample_day()
    st = vehicle_states(out)
    assert st.vehicle_ids == ["V1", "V2"]
    totals = st.totals_s()
    # V1, shift 0..7200: empty drives 0-380 and 1450-1800; loaded 420-800, 830-1020, 1040-1430;
    # at stops 380-420, 800-830, 1020-1040, 1430-1450; idle the rest.
    assert totals[0, EMPTY] == 380 + 350
    assert totals[0, LOADED] == 380 + 190 + 390
    assert totals[0, AT_STOP] == 40 + 30 + 20 + 20
    assert totals[0, IDLE] == 7200 - 1800
    # V2, shift 3600..7200: empty 3600-3900, at stop 3900-3910, loaded 3910-4810, at stop 4810-4830.
    assert totals[1].tolist() == [7200 - 4830, 300, 900, 30]
    _check_partition(out)
    m = st.vehicle == 1
    assert st.state[m].tolist() == [EMPTY, AT_STOP, LOADED, AT_STOP, IDLE]


def test_states_when_records_overlap_and_outlast_the_shift() -> None:
    out = SimOutput(
        "overlap",
        0,
        0,
        1000,
        rides=[],
        drives=[Drive("V1", 100, 300, 0, 1, 1000, 2, [0, 1]), Drive("V1", 1100, 1300, 1, 0, 1000, 0, [1, 0])],
        # the visit starts before the drive has arrived: the drive keeps 250-300
        visits=[StopVisit("V1", 1, 250, 300, 400, 0, 2, 0, 4)],
        vehicles=[VehicleRecord("V1", 4, 0, 50, 1000)],
    )
    st = vehicle_states(out)
    rows = list(zip(st.start_s.tolist(), st.end_s.tolist(), st.state.tolist(), strict=True))
    assert rows == [(50, 100, IDLE), (100, 300, LOADED), (300, 400, AT_STOP), (400, 1100, IDLE), (1100, 1300, EMPTY)]
    _check_partition(out)


def test_states_of_a_real_day_partition_each_span(real_day: SimOutput) -> None:
    _check_partition(real_day)
    st = vehicle_states(real_day)
    totals = st.totals_s()
    for i, vid in enumerate(st.vehicle_ids):
        loaded = sum(d.arrive_s - d.depart_s for d in real_day.drives if d.vehicle_id == vid and d.onboard > 0)
        empty = sum(d.arrive_s - d.depart_s for d in real_day.drives if d.vehicle_id == vid and d.onboard == 0)
        visits = [v for v in real_day.visits if v.vehicle_id == vid]
        at_stops = sum(v.depart_s - v.arrive_s for v in visits)
        # waits with riders on board for a window at the stop where the vehicle stands (the
        # simulator's records never overlap)
        records = sorted(
            [(d.depart_s, 0, d.arrive_s, d.to_stop, d.onboard) for d in real_day.drives if d.vehicle_id == vid]
            + [(v.arrive_s, 1, v.depart_s, v.stop, v.onboard_after - v.boarded + v.alighted) for v in visits]
        )
        waits = 0
        for (_, _, end0, stop0, _), (start1, kind1, _, stop1, riders1) in itertools.pairwise(records):
            if kind1 == 1 and stop0 == stop1 and riders1 > 0:
                waits += start1 - end0
        assert totals[i, LOADED] == loaded
        assert totals[i, EMPTY] == empty
        assert totals[i, AT_STOP] == at_stops + waits
        assert loaded > 0
    assert totals[:, AT_STOP].sum() > sum(v.depart_s - v.arrive_s for v in real_day.visits)  # some waits


def test_waiting_with_riders_is_at_a_stop() -> None:
    out = SimOutput(
        "waits",
        0,
        0,
        1000,
        rides=[],
        drives=[
            Drive("V1", 0, 100, 0, 1, 500, 1, [0, 1]),
            Drive("V2", 0, 100, 0, 1, 500, 0, [0, 1]),
        ],
        visits=[
            # V1 arrives at 100 with a rider, the next pickup window opens at 160: at the stop
            StopVisit("V1", 1, 160, 160, 180, 1, 0, 2, 4),
            # the next rider at the same stop, with two on board: still at the stop
            StopVisit("V1", 1, 300, 300, 320, 1, 0, 3, 4),
            # they alight there later (a loop); no one on board after: idle until the next visit
            StopVisit("V1", 1, 400, 400, 420, 0, 3, 0, 4),
            StopVisit("V1", 1, 600, 600, 620, 1, 0, 1, 4),
            # V2 arrives empty and waits for its first rider: idle (an available vehicle)
            StopVisit("V2", 1, 160, 160, 180, 1, 0, 1, 4),
        ],
        vehicles=[VehicleRecord("V1", 4, 0, 0, 1000), VehicleRecord("V2", 4, 0, 0, 1000)],
    )
    st = vehicle_states(out)
    rows = list(zip(st.vehicle.tolist(), st.start_s.tolist(), st.end_s.tolist(), st.state.tolist(), strict=True))
    assert rows == [
        (0, 0, 100, LOADED),
        (0, 100, 420, AT_STOP),
        (0, 420, 600, IDLE),
        (0, 600, 620, AT_STOP),
        (0, 620, 1000, IDLE),
        (1, 0, 100, EMPTY),
        (1, 100, 160, IDLE),
        (1, 160, 180, AT_STOP),
        (1, 180, 1000, IDLE),
    ]
    _check_partition(out)


def test_gantt_bars_cover_the_states(real_day: SimOutput) -> None:
    fig = plot_vehicle_gantt(real_day)
    ax = fig.axes[0]
    widths = [0.0] * len(STATES)
    colours = {}
    for coll in ax.collections:
        verts = [p.vertices for p in coll.get_paths()]
        colours[tuple(np.round(coll.get_facecolor()[0], 3))] = sum(v[:, 0].max() - v[:, 0].min() for v in verts)
    from matplotlib.colors import to_rgba

    from sim.plots import STATE_COLOURS

    for code, colour in enumerate(STATE_COLOURS):
        widths[code] = colours.get(tuple(np.round(to_rgba(colour), 3)), 0.0)
    np.testing.assert_allclose(widths, vehicle_states(real_day).totals_s().sum(axis=0))
    assert all(re.fullmatch(r"\d\d:\d\d", t.get_text()) for t in ax.get_xticklabels() if t.get_text())


# ---------------------------------------------------------------------------------- the map
def test_street_loads_of_the_sample_day_by_hand() -> None:
    pairs, riders, passes = street_loads(sample_day())
    got = {tuple(p): (r, n) for p, r, n in zip(pairs.tolist(), riders.tolist(), passes.tolist(), strict=True)}
    # drives 0-1 (empty), 1-2 (1 rider), 2-3 (3), 3-4 (2), 4-0 (empty, the chord), 5-6 (empty), 6-7 (1)
    assert got == {(0, 1): (0, 1), (1, 2): (1, 1), (2, 3): (3, 1), (3, 4): (2, 1), (0, 4): (0, 1), (5, 6): (0, 1),
                   (6, 7): (1, 1)}  # fmt: skip


def test_street_loads_add_up_over_a_real_day(real_day: SimOutput) -> None:
    _pairs, riders, passes = street_loads(real_day)
    steps = sum(len(d.nodes) - 1 for d in real_day.drives if len(d.nodes) >= 2)
    rider_steps = sum((len(d.nodes) - 1) * d.onboard for d in real_day.drives if len(d.nodes) >= 2)
    assert passes.sum() == steps and riders.sum() == rider_steps


def test_map_is_slide_ready(real_day: SimOutput) -> None:
    fig = plot_map(real_day)
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []  # no degree labels
    title = ax.get_title()
    assert "plots-small" in title and "07:00–" in title and "requests" in title and "% served" in title
    legend = ax.get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    assert any("riders carried" in t for t in labels) and any("stops" in t for t in labels)
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    bars = [a for a in ax.artists if isinstance(a, AnchoredSizeBar)]
    assert len(bars) == 1
    assert len(fig.axes) == 2  # the map and the colour bar of the load


def test_map_draws_the_zone(real_day: SimOutput) -> None:
    # a rectangle in the middle of Dongjak: 0.015 degrees of longitude, 0.018 of latitude
    zone = ((37.490, 126.945), (37.490, 126.960), (37.508, 126.960), (37.508, 126.945))
    out = dataclasses.replace(real_day, zone=zone)
    fig = plot_map(out)
    from matplotlib.patches import Polygon

    rings = [p for p in fig.axes[0].patches if isinstance(p, Polygon)]
    assert len(rings) == 2  # the fill and the dashed outline
    xy = rings[1].get_xy()
    # projected into the network's metres (UTM, a little rotated): sides of about 1.32 km
    # east-west and 2.0 km north-south, among the streets
    km_per_deg_lon = 111.32 * math.cos(math.radians(37.499))
    sides = np.hypot(*np.diff(xy, axis=0).T)
    assert sides[0] == pytest.approx(1000 * 0.015 * km_per_deg_lon, rel=0.01)
    assert sides[1] == pytest.approx(1000 * 0.018 * 110.95, rel=0.01)
    net = out.network
    assert net.x_m.min() < xy[:, 0].min() < xy[:, 0].max() < net.x_m.max()
    assert net.y_m.min() < xy[:, 1].min() < xy[:, 1].max() < net.y_m.max()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "service zone" in labels and any("stops outside (not served)" in t for t in labels)


def _hex_total(fig: Any, panel: int) -> float:
    coll = [c for c in fig.axes[panel].collections if c.get_array() is not None and len(c.get_offsets()) > 2]
    assert len(coll) == 1
    return float(np.asarray(coll[0].get_array()).sum())


def test_heat_maps_count_the_requests(real_day: SimOutput) -> None:
    fig = plot_demand_heatmap(real_day)
    asked = sum(1 for r in real_day.rides if r.origin_stop >= 0)
    told = sum(1 for r in real_day.rides if r.destination_stop >= 0)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert _hex_total(fig, fig.axes.index(panels[0])) == asked
    assert _hex_total(fig, fig.axes.index(panels[1])) == told
    rejected = sum(1 for r in real_day.rides if r.outcome == "rejected" and r.origin_stop >= 0)
    assert rejected > 0
    fig = plot_rejection_heatmap(real_day)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert _hex_total(fig, fig.axes.index(panels[0])) == rejected
    assert f"{rejected} of {len(real_day.rides)} requests" in fig.get_suptitle()


def test_occupancy_has_clock_ticks() -> None:
    out = sample_day()
    fig = plot_occupancy(compute_kpis(out), out.scenario)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"\d\d:\d\d", t) for t in labels)
    assert "00:00" in labels and "ring-test" in fig.get_suptitle()


# ---------------------------------------------------------------------------------- every plot
def _assert_pngs(files: dict[str, Path]) -> None:
    for name in PLOTS:
        data = files[name].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, name


def test_every_plot_without_a_zone(real_day: SimOutput, tmp_path: Path) -> None:
    assert real_day.zone is None
    _assert_pngs(write_report(real_day, tmp_path))


def test_every_plot_on_a_graph_without_coordinates(tmp_path: Path) -> None:
    out = sample_day(geographic=False)
    files = write_report(out, tmp_path)
    _assert_pngs(files)
    assert not list(tmp_path.glob("*.geojson"))


def test_every_plot_on_an_empty_day(tmp_path: Path) -> None:
    network = routing.synthetic_city(100)
    stops = routing.virtual_stops(network, spacing_m=300)
    out = SimOutput("empty", 1, 0, 3600, rides=[], drives=[], visits=[], vehicles=[], network=network, stops=stops)
    _assert_pngs(write_report(out, tmp_path))
