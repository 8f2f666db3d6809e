"""Fleet by time of day: the shift program, the need per hour, and the whole plan on a tiny day."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from mobility.cli import main
from sim.fleet_plan import (
    FleetPlanError,
    HourlyService,
    ServiceTarget,
    measure_flat,
    need_from_runs,
    plan_fleet,
    plan_shifts,
    planning_hours,
    write_plan,
)
from sim.scenario import Scenario

H = 3600
REPO = Path(__file__).resolve().parents[2]


def highs_vehicle_hours(need: list[int], lengths: range) -> float:
    """The fewest vehicle-hours by an independent solver (HiGHS through scipy.optimize.milp)."""
    num = len(need)
    types = [(s, length) for length in lengths if length <= num for s in range(num - length + 1)]
    cover = np.array([[1.0 if s <= k < s + L else 0.0 for s, L in types] for k in range(num)])
    cost = np.array([float(L) for _, L in types])
    res = milp(cost, constraints=LinearConstraint(cover, np.array(need, float), np.inf),
               integrality=np.ones(len(types)), bounds=Bounds(0, np.inf))  # fmt: skip
    return float(res.fun)


def check_cover(plan: Any, need: list[int], lengths: range) -> None:
    """Recount the plan from its shifts: on duty, vehicle-hours, lengths, inside the hours."""
    on_duty = [0] * len(need)
    for sh in plan.shifts:
        assert sh.length_h in lengths
        assert plan.first_hour <= sh.start_h < sh.end_h <= plan.first_hour + len(need)
        for h in range(sh.start_h, sh.end_h):
            on_duty[h - plan.first_hour] += sh.vehicles
    assert list(plan.on_duty) == on_duty
    assert all(d >= n for d, n in zip(on_duty, need, strict=True))
    assert plan.vehicle_hours == sum(sh.length_h * sh.vehicles for sh in plan.shifts)
    assert plan.vehicles == sum(sh.vehicles for sh in plan.shifts)


# ---------------------------------------------------------------------------- the program
def test_an_exact_cover_is_found() -> None:
    # need 2 from 06 to 10, 5 from 10 to 14, 2 from 14 to 18; 4-8 h shifts. The 36 hours of need
    # can be covered exactly (2 x 06-14, 1 x 10-14, 2 x 10-18), and no fewer than 5 vehicles
    # cover the 5 needed at 10:00.
    need = [2] * 4 + [5] * 4 + [2] * 4
    plan = plan_shifts(need, range(4, 9), first_hour=6)
    check_cover(plan, need, range(4, 9))
    assert (plan.vehicle_hours, plan.vehicles, plan.optimal) == (36, 5, True)
    assert plan.on_duty == tuple(need)


def test_the_brief_profile() -> None:
    # need 2 from 06 to 10, 5 from 10 to 12, 2 from 12 to 18; 4-8 h shifts. 30 hours of need; no
    # exact cover: on duty would go 2 -> 5 -> 2, so 3 shifts start at 10:00 and 3 end at 12:00,
    # all 6 on duty at 10:00 where only 5 are (a shift of 10-12 is too short). 32 is reached by
    # 2 x 06-12, 1 x 10-14, 2 x 10-18 (one extra vehicle for two hours); HiGHS agrees on 32.
    need = [2] * 4 + [5] * 2 + [2] * 6
    plan = plan_shifts(need, range(4, 9), first_hour=6)
    check_cover(plan, need, range(4, 9))
    assert plan.vehicle_hours == 32 == highs_vehicle_hours(need, range(4, 9))
    assert plan.vehicles == 5


def test_random_profiles_match_an_independent_solver() -> None:
    rng = np.random.default_rng(18)
    for _ in range(6):
        num = int(rng.integers(6, 19))
        need = rng.integers(0, 7, num).tolist()
        lengths = range(int(rng.integers(2, 5)), int(rng.integers(5, 9)))
        plan = plan_shifts(need, lengths, first_hour=5)
        check_cover(plan, need, lengths)
        assert plan.vehicle_hours == round(highs_vehicle_hours(need, lengths))
        assert plan.vehicles >= max(need)


def test_no_need_no_shifts() -> None:
    plan = plan_shifts([0, 0, 0], range(4, 9))
    assert (plan.shifts, plan.vehicle_hours, plan.vehicles) == ((), 0, 0)


@pytest.mark.parametrize(
    ("need", "lengths", "options", "field"),
    [
        ([1, 2, 1], range(4, 9), {"first_hour": 6}, "lengths"),  # no 4 h shift in 3 hours
        ([2, -1, 2, 2], range(1, 3), {}, "need_by_hour[1]"),
        ([2, 1.5, 2, 2], range(1, 3), {}, "need_by_hour[1]"),
        ([], range(1, 3), {}, "need_by_hour"),
        ([1, 1], [0, 1], {}, "lengths[0]"),
        ([1] * 10, range(4, 9), {"max_vehicles": 0}, "max_vehicles"),
        ([3, 5, 3, 3], range(1, 3), {"max_vehicles": 4}, "max_vehicles"),  # 5 at 01:00
        # the peak fits, the day does not: 1 at 00:00 and 1 at 11:00 take two 4-8 h shifts
        ([1] + [0] * 10 + [1], range(4, 9), {"max_vehicles": 1}, "max_vehicles"),
        ([1] * 10, range(4, 9), {"first_hour": 40}, "first_hour"),
    ],
)
def test_bad_or_infeasible_inputs_name_the_field(
    need: list[Any], lengths: Any, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(FleetPlanError) as info:
        plan_shifts(need, lengths, **options)
    assert info.value.field == field
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------- need per hour
def service(served: list[float | None], p90_wait_min: list[float], requests: int = 20) -> HourlyService:
    """An hourly service with ``requests`` per hour, the given accepted shares and all waits
    equal to the given minutes (so the p90 is that)."""
    return HourlyService(
        first_hour=7,
        requests=tuple(requests if s is not None else 0 for s in served),
        accepted=tuple(round(requests * s) if s is not None else 0 for s in served),
        waits_s=tuple((int(w * 60),) * 5 if s is not None else () for s, w in zip(served, p90_wait_min, strict=True)),
        vehicle_hours=0.0,
        vehicle_km=0.0,
    )


def test_need_by_hand() -> None:
    sizes = [3, 1, 2]  # any order
    runs = [
        service([1.0, 1.0, 1.0, 1.0, None], [5, 5, 5, 20, 0]),  # 3 vehicles
        service([1.0, 0.5, 1.0, 1.0, None], [5, 5, 20, 20, 0]),  # 1 vehicle
        service([1.0, 1.0, 0.9, 1.0, None], [5, 5, 5, 20, 0]),  # 2 vehicles
    ]
    est = need_from_runs(sizes, runs, ServiceTarget(served=0.95, p90_wait_s=10 * 60))
    # 07: every size meets it -> 1; 08: 1 misses (50 %) -> 2; 09: 1 (wait) and 2 (90 %) miss -> 3;
    # 10: every size misses (wait) -> 3, unmet; 11: no requests -> 0
    assert est.sizes == (1, 2, 3)
    assert est.need == (1, 2, 3, 3, 0)
    assert est.unmet == (10,)
    assert est.smallest_flat() is None
    # a lucky small fleet does not count: 2 misses hour 07 where 1 and 3 meet it
    noisy = [service([1.0], [5]), service([0.5], [5]), service([1.0], [5])]
    assert need_from_runs([1, 2, 3], noisy, ServiceTarget()).need == (3,)


def test_pooled_days_are_one_sample() -> None:
    a = service([1.0, 0.5], [5, 5], requests=10)
    b = service([0.5, None], [20, 0], requests=10)
    both = HourlyService.pooled([a, b])
    assert both.requests == (20, 10) and both.accepted == (15, 5) and both.days == 2
    assert both.served(0) == 0.75
    assert sorted(both.waits_s[0]) == [300] * 5 + [1200] * 5


# ---------------------------------------------------------------------------- a tiny day
def tiny_doc() -> dict[str, Any]:
    """Two hours of Jamsil, 60 requests, up to 3 minibuses: small enough to run a few times."""
    return {
        "scenario": {"name": "tiny", "seed": 4, "start": "07:00", "end": "09:00"},
        "network": {"kind": "osm", "path": "osm/seoul_jamsil.osm"},
        "stops": {"kind": "virtual", "spacing_m": 300},
        "fleet": {"vehicles": 2, "seats": 6, "shift_start": "07:00", "shift_end": "09:30"},
        "service": {"max_wait_s": 600, "service_start_s": 6 * H, "service_end_s": 23 * H},
        "demand": {"kind": "profile", "total": 60, "profile": "two_peaks", "prebook_share": 0.1, "lead_max_min": 2,
                   "cancel_probability": 0.0, "no_show_probability": 0.0},
        "traffic": {"model": "none"},
        "dispatch": {"reoptimise_every_s": 600, "reoptimise_iterations": 10},
    }  # fmt: skip


@pytest.fixture(scope="module")
def tiny(data_dir: Path) -> Scenario:
    return Scenario.from_dict(tiny_doc(), data_dir=data_dir)


@pytest.fixture(scope="module")
def flat_runs(tiny: Scenario) -> list[HourlyService]:
    return measure_flat(tiny, [1, 2, 3], [4])


def test_hourly_counts_are_the_rides(tiny: Scenario, flat_runs: list[HourlyService]) -> None:
    from sim.simulator import Simulation

    first, num = planning_hours(tiny)
    assert (first, num) == (7, 3)  # 07:00 .. 09:30 -> the hours 07, 08, 09
    out = Simulation(tiny, seed=4).run()  # the day of two vehicles, again
    again = flat_runs[1]
    for k in range(num):
        hour = [r for r in out.rides if (first + k) * H <= r.requested_s < (first + k + 1) * H]
        assert again.requests[k] == len(hour)
        assert again.accepted[k] == sum(1 for r in hour if r.outcome != "rejected")
        assert sorted(again.waits_s[k]) == sorted(r.pickup_s - r.requested_s for r in hour if r.outcome == "completed")
    assert sum(again.requests) == 60
    assert again.vehicle_hours == pytest.approx(2 * 2.5)


def test_a_stricter_target_never_needs_fewer_vehicles(flat_runs: list[HourlyService]) -> None:
    served = [0.5, 0.8, 0.9, 0.95, 1.0]
    waits = [15, 10, 7, 5, 3]
    needs = {(s, w): need_from_runs([1, 2, 3], flat_runs, ServiceTarget(s, w * 60)).need for s in served for w in waits}
    for (s, w), need in needs.items():
        for (s2, w2), need2 in needs.items():
            if s2 >= s and w2 <= w:  # (s2, w2) is at least as strict
                assert all(b >= a for a, b in zip(need, need2, strict=True)), ((s, w), (s2, w2))
    # the small fleet does turn riders away here (else the targets would not differ)
    assert len(set(needs.values())) > 1


def test_the_whole_plan_on_a_tiny_day(tiny: Scenario, tmp_path: Path, data_dir: Path) -> None:
    seen: list[tuple[int, int]] = []
    result = plan_fleet(tiny, ServiceTarget(0.9, 10 * 60), sizes=[1, 2, 3], seeds=[4], lengths=range(1, 3),
                        rounds=2, progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert seen[-1] == (5, 5) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    plan = result.final.plan
    need = list(result.final.need)
    assert all(d >= n for d, n in zip(plan.on_duty, need, strict=True))
    assert 1 <= len(result.rounds) <= 2
    files = write_plan(result, tmp_path, plots=True)
    assert {p.name for p in files.values()} == {"fleet_plan.toml", "fleet_plan.md", "fleet_plan.json", "fleet_plan.png"}
    # the snippet is a [fleet] table a scenario takes, with the same shifts
    fleet = tomllib.loads(files["toml"].read_text())["fleet"]
    doc = tiny_doc() | {"fleet": fleet}
    back = Scenario.from_dict(doc, data_dir=data_dir).fleet
    assert back.vehicles == plan.vehicles
    assert [(s.start_s, s.end_s, s.vehicles) for s in back.shifts] == [
        (s.start_h * H, s.end_h * H, s.vehicles) for s in plan.shifts
    ]
    assert "| fleet | vehicles (shifts) | peak on duty | served |" in files["markdown"].read_text()


def test_the_command(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tiny.toml"
    doc = tiny_doc()
    lines = []
    for section, table in doc.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {v!r}".replace("'", '"').replace("True", "true").replace("False", "false")
                  for k, v in table.items()]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "plan"
    args = ["fleet-plan", str(path), "--data-dir", str(data_dir), "--sizes", "1,3", "--seeds", "4",
            "--lengths", "1-2", "--rounds", "1", "--out", str(out), "--no-plots"]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "shifts (" in text and ("met the target in every hour" in text or "MISSED" in text)
    assert (out / "fleet_plan.toml").is_file() and not (out / "fleet_plan.png").exists()
    with pytest.raises(SystemExit) as info:
        main([*args[:2], "--served", "1.5"])
    assert info.value.code == 2
    assert "--served" in capsys.readouterr().err


def test_days_on_ray_equal_days_in_process(tiny: Scenario, flat_runs: list[HourlyService]) -> None:
    assert measure_flat(tiny, [1, 2, 3], [4], workers=2) == flat_runs


def test_shift_lengths_are_checked_before_any_day(tiny: Scenario) -> None:
    seen: list[int] = []
    with pytest.raises(FleetPlanError) as info:  # the tiny day plans 07:00 .. 10:00
        plan_fleet(tiny, ServiceTarget(), sizes=[1], seeds=[4], lengths=[4, 5], progress=lambda d, t: seen.append(d))
    assert info.value.field == "lengths" and "3 h from 07:00 to 10:00" in str(info.value)
    assert seen == []


def test_the_command_refuses_an_out_that_is_a_file_before_it_runs(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "results"
    taken.write_text("")
    assert main(["fleet-plan", "imod_jamsil", "--data-dir", str(data_dir), "--out", str(taken)]) == 2
    captured = capsys.readouterr()
    assert f"--out: {taken} is a file, not a folder" in captured.err
    assert captured.out == ""


def test_a_split_zone_is_refused(data_dir: Path) -> None:
    doc = Scenario.from_toml(REPO / "scenarios" / "imod_split_jamsil.toml", data_dir=data_dir)
    with pytest.raises(FleetPlanError) as info:
        plan_fleet(doc, ServiceTarget(), sizes=[1], seeds=[1])
    assert info.value.field == "subzones"
