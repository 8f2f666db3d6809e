"""Background traffic in SUMO: the routes file, the hourly measurement and the edge-time meter
(real randomTrips, duarouter and SUMO on the Jamsil network)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import routing
from sim.scenario import VC_MAJOR
from sim.sumo import build_sumo_network
from sim.sumo.background import (
    BackgroundSpec,
    check_period,
    departures_per_hour,
    expected_departures,
    write_background,
)
from sim.sumo.measure import EdgeTimeMeter, SumoEdges, measure_traffic, uncongested_pace
from sim.sumo.network import SumoNetwork
from sim.sumo.session import SumoSession

H7, H8 = 7 * 3600, 8 * 3600
LIGHT_VPH, HEAVY_VPH = 150.0, 2600.0


@pytest.fixture(scope="module")
def sumo_jamsil(data_dir: Path, jamsil_net: routing.RoadNetwork) -> SumoNetwork:
    return build_sumo_network(data_dir / "osm" / "seoul_jamsil.osm", jamsil_net)


@pytest.fixture(scope="module")
def load_routes(sumo_jamsil: SumoNetwork, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One hour (07:00-08:00) of light and of heavy background traffic."""
    out = {}
    for name, vph in (("light", LIGHT_VPH), ("heavy", HEAVY_VPH)):
        folder = tmp_path_factory.mktemp(name)
        out[name] = write_background(sumo_jamsil, BackgroundSpec(peak_vph=vph), folder, begin_s=H7, end_s=H8)
    return out


def _vehicles(routes: Path) -> list[tuple[str, str, str]]:
    import sumolib

    return [(v.id, v.depart, v.route[0].edges) for v in sumolib.xml.parse(str(routes), "vehicle")]


def test_background_is_deterministic_and_follows_the_profile(sumo_jamsil: SumoNetwork, tmp_path: Path) -> None:
    spec = BackgroundSpec(peak_vph=500.0, seed=4)
    begin, end = 7 * 3600 + 1800, 9 * 3600  # starts on the half hour: intervals of 30 min
    a = write_background(sumo_jamsil, spec, tmp_path / "a", begin_s=begin, end_s=end)
    b = write_background(sumo_jamsil, spec, tmp_path / "b", begin_s=begin, end_s=end)
    c = write_background(sumo_jamsil, spec, tmp_path / "c", begin_s=begin, end_s=end, seed=5)
    va, vb, vc = _vehicles(a), _vehicles(b), _vehicles(c)
    assert va == vb  # same seed: the same cars, departures and routes
    assert [v[2] for v in va] != [v[2] for v in vc]  # another seed: other trips
    counts = departures_per_hour(a)
    assert counts == expected_departures(spec, begin, end)
    # the profile's rate, hour by hour, within one car per 30-minute interval of rounding
    vph = spec.hourly_vph()
    assert abs(counts[7] - vph[7] / 2) <= 1
    assert abs(counts[8] - vph[8]) <= 2
    assert set(counts) == {7, 8}
    assert vph[8] == pytest.approx(500.0 * VC_MAJOR[8] / max(VC_MAJOR))
    # every car is a background car, on SUMO edges of the engine's map only at its ends
    mapped = set(sumo_jamsil.edge_map.sumo_edges)
    for vid, _, edges in va:
        assert vid.startswith("bg")
        route = edges.split()
        assert route[0] in mapped and route[-1] in mapped


def test_more_cars_congest_more(
    sumo_jamsil: SumoNetwork, jamsil_net: routing.RoadNetwork, load_routes: dict[str, Path], tmp_path: Path
) -> None:
    pace = uncongested_pace(sumo_jamsil, jamsil_net, tmp_path / "ref", vph=120.0, hours=1)
    edges = SumoEdges.read(sumo_jamsil, jamsil_net)
    assert np.all(pace > 0) and np.all(np.isfinite(pace))
    # the nearly empty network is at least as slow as the speed limits on most edges (signals, turns)
    assert np.median(pace * edges.speed_ms) > 0.9
    hours = {}
    for name, routes in load_routes.items():
        m = measure_traffic(
            sumo_jamsil,
            jamsil_net,
            [routes],
            begin_s=H7,
            end_s=H8,
            work_dir=tmp_path / name,
            reference_pace=pace,
        )
        assert [h.hour for h in m.hours] == [7] and m.real_time_factor > 1
        lost = [x["lost_veh_h"] for x in m.hotspots]
        assert lost == sorted(lost, reverse=True) and 0 < sum(x["share"] for x in m.hotspots) <= 1.0001
        hours[name] = m.hours[0]
    light, heavy = hours["light"], hours["heavy"]
    share = VC_MAJOR[7] / max(VC_MAJOR)  # the hour's rate is the peak's times its profile value
    assert light.departed == pytest.approx(LIGHT_VPH * share, abs=2)
    assert heavy.departed > 0.9 * HEAVY_VPH * share
    # a nearly empty hour sits close to the uncongested network; a busy one well above it
    assert 0.85 < light.ci_major_rel < 1.2
    assert heavy.ci_major_rel > light.ci_major_rel + 0.2
    assert heavy.ci_minor_rel > light.ci_minor_rel
    assert heavy.ci_major > light.ci_major  # also against the speed limits
    assert heavy.mean_speed_kph < light.mean_speed_kph
    assert heavy.queue_mean > light.queue_mean and heavy.queue_max >= light.queue_max
    assert heavy.veh_km > 5 * light.veh_km


def test_edge_time_meter_free_flow_when_empty_and_slower_under_load(
    sumo_jamsil: SumoNetwork, jamsil_net: routing.RoadNetwork, load_routes: dict[str, Path]
) -> None:
    free = jamsil_net.travel_time_s.astype(np.float64)
    meter = EdgeTimeMeter(sumo_jamsil, jamsil_net)
    with SumoSession(sumo_jamsil.net_file, begin_s=H7, end_s=H7 + 600) as sumo:  # no cars at all
        for _ in range(60):
            sumo.simulation.step(sumo.simulation.getTime() + 10)
            meter.sample(sumo)
    assert meter.samples == 60 and meter.span_s == pytest.approx(600.0, abs=10)
    assert not meter.driven().any()
    assert np.array_equal(meter.travel_times(free), free)
    assert np.array_equal(meter.travel_times(free * 2), free * 2)

    times = {}
    for name in ("light", "heavy"):
        meter = EdgeTimeMeter(sumo_jamsil, jamsil_net)
        with SumoSession(sumo_jamsil.net_file, routes=[load_routes[name]], begin_s=H7, end_s=H8) as sumo:
            while sumo.simulation.getTime() < H7 + 2400:  # 40 min
                sumo.simulation.step(sumo.simulation.getTime() + 4)
                meter.sample(sumo)
        tt, driven = meter.travel_times(free), meter.driven()
        assert np.all(np.isfinite(tt)) and np.all(tt > 0)
        assert np.array_equal(tt[~driven], free[~driven])  # nobody drove: free flow
        assert driven.sum() > 0.3 * jamsil_net.num_edges
        times[name] = (tt, driven)
    (light, d_light), (heavy, d_heavy) = times["light"], times["heavy"]
    both = d_light & d_heavy
    assert both.sum() > 100
    ratio = heavy[both] / light[both]
    assert np.median(ratio) > 1.0 and ratio.mean() > 1.2  # busier roads take longer
    assert heavy[both].sum() > 1.2 * light[both].sum()
    meter.reset()
    assert not meter.driven().any() and meter.span_s == 0


def test_bad_specs_are_clear_errors(sumo_jamsil: SumoNetwork, jamsil_net: routing.RoadNetwork, tmp_path: Path) -> None:
    for kwargs, field in (
        ({"peak_vph": 0}, "peak_vph"),
        ({"peak_vph": math.inf}, "peak_vph"),
        ({"peak_vph": 100, "profile": (1.0,) * 23}, "profile"),
        ({"peak_vph": 100, "profile": (1.0,) * 3 + (-1.0,) + (1.0,) * 20}, r"profile\[3\]"),
        ({"peak_vph": 100, "profile": (0.0,) * 24}, "profile"),
        ({"peak_vph": 100, "seed": -1}, "seed"),
        ({"peak_vph": 100, "major_weight": 0.5}, "major_weight"),
        ({"peak_vph": 100, "min_trip_m": -5}, "min_trip_m"),
        ({"peak_vph": 100, "reroute_period_s": 2.5}, "reroute_period_s"),
    ):
        with pytest.raises(ValueError, match=field):
            BackgroundSpec(**kwargs)
    with pytest.raises(ValueError, match="begin_s"):
        check_period(100, 3600)
    with pytest.raises(ValueError, match="end_s"):
        check_period(7200, 3600)
    spec = BackgroundSpec(peak_vph=100)
    with pytest.raises(ValueError, match="seed"):
        write_background(sumo_jamsil, spec, tmp_path, begin_s=0, end_s=3600, seed=2**31)
    meter = EdgeTimeMeter(sumo_jamsil, jamsil_net)
    with pytest.raises(ValueError, match="free_flow"):
        meter.travel_times(np.ones(3))
    other = routing.synthetic_city(100, seed=1)
    with pytest.raises(ValueError, match="engine_network"):
        EdgeTimeMeter(sumo_jamsil, other)


def test_cli_bad_values_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from mobility.cli import main

    def run(argv: list[str]) -> object:
        try:
            return main(argv)
        except SystemExit as exc:  # argparse's own errors
            return exc.code

    taken = tmp_path / "results"
    taken.write_text("")
    for argv, text in (
        (["traffic", "imod_jamsil", "--hours", "9-7", "--out", str(tmp_path)], "--hours"),
        (["traffic", "imod_jamsil", "--peak-vph", "0", "--out", str(tmp_path)], "--peak-vph"),
        (["traffic", "no_such_scenario", "--out", str(tmp_path)], "scenario"),
        (["traffic", "imod_jamsil", "--out", str(taken)], f"--out: {taken} is a file, not a folder"),
    ):
        assert run(argv) == 2
        err = capsys.readouterr().err
        assert text in err and "Traceback" not in err


def test_period_rates_put_hours_on_interval_boundaries() -> None:
    from sim.sumo.background import period_rates

    spec = BackgroundSpec(peak_vph=1400.0)
    step, rates = period_rates(spec, 6 * 3600, 9 * 3600)
    assert step == 3600 and rates == pytest.approx([spec.hourly_vph()[h] for h in (6, 7, 8)])
    step, rates = period_rates(spec, 6 * 3600 + 900, 7 * 3600 + 1800)
    assert step == 900 and len(rates) == 5
    assert rates[:3] == pytest.approx([spec.hourly_vph()[6]] * 3) and rates[3:] == pytest.approx(
        [spec.hourly_vph()[7]] * 2
    )
    assert check_period(0, 2 * 86400) == (0, 172800)
