"""Service parameters: defaults, the MATSim ride-time rule, promises, hours, validation and TOML."""

from __future__ import annotations

import dataclasses
import inspect
import math
from pathlib import Path
from typing import Any

import pytest

from matching import InvalidValueError, ParamsFileError, ServiceParams

ZONE = ((37.505, 127.075), (37.505, 127.125), (37.535, 127.125), (37.535, 127.075))


def test_defaults_describe_imod() -> None:
    p = ServiceParams()
    assert (p.max_wait_s, p.max_ride_alpha, p.max_ride_beta_s, p.max_absolute_detour_s) == (900, 1.5, 600, 1200)
    assert (p.dwell_s, p.boarding_s_per_passenger, p.max_walk_m, p.zone) == (30, 5, 400, None)
    assert (p.service_start_s, p.service_end_s) == (6 * 3600, 23 * 3600)
    assert (p.prebook_horizon_s, p.min_lead_time_s, p.promise_early_s, p.promise_late_s) == (7 * 86400, 0, 120, 300)
    assert (p.vehicle_time_weight, p.passenger_delay_weight, p.new_rider_wait_weight) == (1.0, 1.0, 0.1)
    assert (p.offer_ttl_s, p.max_passengers_per_request) == (120, 8)
    assert (p.reoptimise_interval_s, p.reoptimise_deadline_ms) == (60, 200)
    assert ServiceParams.default_imod() == p


def test_every_field_is_documented() -> None:
    source = inspect.getsource(ServiceParams)
    for f in dataclasses.fields(ServiceParams):
        declaration = source.index(f"    {f.name}: ")
        assert source[source.index("\n", declaration) + 1 :].lstrip().startswith('"""'), f.name


# ============================================================================ rules
@pytest.mark.parametrize(
    ("direct", "expected"),
    [
        (0, 600),  # min(0 + 600, 0 + 1200)
        (600, 1500),  # min(1.5 * 600 + 600 = 1500, 600 + 1200 = 1800)
        (1200, 2400),  # both terms equal: 1800 + 600 = 1200 + 1200
        (2000, 3200),  # min(3000 + 600 = 3600, 2000 + 1200 = 3200): the absolute cap binds
        (301, 1051),  # 1.5 * 301 = 451.5, rounded down
    ],
)
def test_max_ride_follows_matsim(direct: int, expected: int) -> None:
    assert ServiceParams().max_ride_s(direct) == expected


def test_max_ride_with_other_parameters() -> None:
    p = ServiceParams(max_ride_alpha=1.15, max_ride_beta_s=0, max_absolute_detour_s=7200)
    assert p.max_ride_s(100) == 115  # 1.15 * 100 is 114.99999999999999 in floating point
    assert p.max_ride_s(1000) == 1150
    strict = ServiceParams(max_ride_alpha=1.0, max_ride_beta_s=0, max_absolute_detour_s=0)
    assert strict.max_ride_s(777) == 777


def test_max_ride_is_bounded_and_monotone() -> None:
    p = ServiceParams(max_ride_alpha=1.3, max_ride_beta_s=300, max_absolute_detour_s=900)
    values = [p.max_ride_s(d) for d in range(0, 6000, 7)]
    for d, value in zip(range(0, 6000, 7), values, strict=True):
        assert d <= value <= d + 900
        assert value == min(math.floor(1.3 * d + 1e-9) + 300, d + 900)
    assert values == sorted(values)


@pytest.mark.parametrize("bad", [-1, 12.5, True])
def test_max_ride_refuses_bad_direct_times(bad: Any) -> None:
    with pytest.raises(InvalidValueError) as info:
        ServiceParams().max_ride_s(bad)
    assert info.value.field == "direct_time_s"


def test_service_time() -> None:
    p = ServiceParams()
    assert p.service_time_s(1) == 35
    assert p.service_time_s(3) == 45
    assert p.service_time_s(0) == 30
    assert ServiceParams(dwell_s=20, boarding_s_per_passenger=8).service_time_s(4) == 52
    with pytest.raises(InvalidValueError, match="passengers"):
        p.service_time_s(-1)


def test_pickup_window() -> None:
    p = ServiceParams()  # max wait 900, early 120, late 300
    assert p.latest_pickup_s(1000) == 1900
    assert p.pickup_window(1000, 1000) == (1000, 1300)
    assert p.pickup_window(1000, 1100) == (1000, 1400)  # opens at the requested time, not before
    assert p.pickup_window(1000, 1500) == (1380, 1800)
    assert p.pickup_window(1000, 1800) == (1680, 1900)  # closes at the latest pickup
    assert p.pickup_window(1000, 1900) == (1780, 1900)
    for bad in (999, 1901):
        with pytest.raises(InvalidValueError) as info:
            p.pickup_window(1000, bad)
        assert info.value.field == "eta_s" and info.value.allowed == "1000 .. 1900 s"


def test_service_hours() -> None:
    p = ServiceParams()  # 06:00 .. 23:00
    assert p.in_service_hours(6 * 3600)
    assert not p.in_service_hours(6 * 3600 - 1)
    assert p.in_service_hours(23 * 3600 - 1)
    assert not p.in_service_hours(23 * 3600)
    assert p.in_service_hours(86400 + 7 * 3600)  # a pre-booked pickup the next day
    assert not p.in_service_hours(3 * 86400 + 2 * 3600)


def test_service_hours_over_midnight_and_all_day() -> None:
    night = ServiceParams(service_start_s=20 * 3600, service_end_s=26 * 3600)  # 20:00 .. 02:00
    assert night.in_service_hours(21 * 3600)
    assert night.in_service_hours(3600)
    assert night.in_service_hours(86400 + 3600)
    assert not night.in_service_hours(2 * 3600)
    assert not night.in_service_hours(12 * 3600)
    always = ServiceParams(service_start_s=0, service_end_s=86400)
    assert all(always.in_service_hours(t) for t in range(0, 2 * 86400, 1799))


# ============================================================================ validation
BAD_PARAMS: list[tuple[str, Any]] = [
    ("max_wait_s", 59),
    ("max_wait_s", 7201),
    ("max_wait_s", 900.0),
    ("max_wait_s", True),
    ("max_ride_alpha", 0.99),
    ("max_ride_alpha", math.nan),
    ("max_ride_alpha", "1.5"),
    ("max_ride_beta_s", -1),
    ("max_absolute_detour_s", -1),
    ("dwell_s", 601),
    ("boarding_s_per_passenger", -1),
    ("max_walk_m", 3001),
    ("max_walk_m", 400.5),
    ("service_start_s", 86400),
    ("service_end_s", 6 * 3600),
    ("service_end_s", 6 * 3600 + 86401),
    ("prebook_horizon_s", -1),
    ("min_lead_time_s", 7 * 86400 + 1),
    ("promise_early_s", -1),
    ("promise_late_s", 7201),
    ("vehicle_time_weight", -0.1),
    ("passenger_delay_weight", math.inf),
    ("new_rider_wait_weight", None),
    ("offer_ttl_s", 0),
    ("max_passengers_per_request", 0),
    ("max_passengers_per_request", 101),
    ("reoptimise_interval_s", -1),
    ("reoptimise_deadline_ms", 0),
    ("reoptimise_deadline_ms", 60_001),
]


@pytest.mark.parametrize(("field", "value"), BAD_PARAMS)
def test_bad_params_name_the_field_and_range(field: str, value: Any) -> None:
    with pytest.raises(InvalidValueError) as info:
        ServiceParams(**{field: value})
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert info.value.allowed and " .. " in info.value.allowed


def test_limits_are_inclusive() -> None:
    ServiceParams(max_wait_s=60, max_walk_m=0, max_ride_alpha=1, offer_ttl_s=1, reoptimise_interval_s=0)
    ServiceParams(max_wait_s=7200, max_walk_m=3000, min_lead_time_s=7 * 86400, service_end_s=6 * 3600 + 86400)


def test_reoptimisation_must_fit_its_interval() -> None:
    with pytest.raises(InvalidValueError) as info:
        ServiceParams(reoptimise_interval_s=1, reoptimise_deadline_ms=1500)
    assert info.value.field == "reoptimise_deadline_ms" and info.value.allowed == "1 .. 1000 ms"
    ServiceParams(reoptimise_interval_s=0, reoptimise_deadline_ms=1500)  # no re-optimisation: no constraint


def test_replace_checks_again() -> None:
    p = dataclasses.replace(ServiceParams(), max_wait_s=600)
    assert p.max_wait_s == 600
    with pytest.raises(InvalidValueError, match="max_wait_s"):
        dataclasses.replace(p, max_wait_s=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.max_wait_s = 1  # type: ignore[misc]


# ---------------------------------------------------------------------------- zone
def test_zone_is_normalised() -> None:
    p = ServiceParams(zone=[[37.5, 127], [37.5, 127.1], [37.6, 127.1], [37.5, 127]])  # type: ignore[arg-type]
    assert p.zone == ((37.5, 127.0), (37.5, 127.1), (37.6, 127.1))  # closing vertex dropped
    assert all(type(c) is float for vertex in p.zone for c in vertex)
    assert ServiceParams(zone=ZONE).zone == ZONE


@pytest.mark.parametrize(
    ("zone", "field"),
    [
        (((37.5, 127.0), (37.6, 127.1)), "zone"),  # two vertices
        (((37.5, 127.0), (37.6, 127.1), (37.5, 127.0)), "zone"),  # two distinct vertices
        (((37.5, 127.0), (37.6, 127.1), (37.7, 127.2)), "zone"),  # on one line: no area
        (((37.5, 127.0), (95.0, 127.1), (37.7, 127.3)), "zone[1].lat"),
        (((37.5, 127.0), (37.6, 127.1), (37.7, 181.0)), "zone[2].lon"),
        (((37.5, 127.0), (37.6, 127.1), (37.7,)), "zone[2]"),
        (((37.5, 127.0), "x", (37.7, 127.2)), "zone[1]"),
        ("37.5,127.0", "zone"),
    ],
)
def test_bad_zones_name_the_vertex(zone: Any, field: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        ServiceParams(zone=zone)
    assert info.value.field == field


# ============================================================================ files
def test_from_dict_refuses_unknown_keys() -> None:
    assert ServiceParams.from_dict({"max_wait_s": 600}) == ServiceParams(max_wait_s=600)
    with pytest.raises(InvalidValueError) as info:
        ServiceParams.from_dict({"max_wait": 600})
    assert info.value.field == "max_wait"
    assert "max_wait_s" in str(info.value.allowed)


@pytest.mark.parametrize(
    "params",
    [
        ServiceParams(),
        ServiceParams(
            max_wait_s=600,
            max_ride_alpha=1.25,
            max_walk_m=250,
            zone=ZONE,
            service_start_s=20 * 3600,
            service_end_s=28 * 3600,
            new_rider_wait_weight=0.05,
            reoptimise_interval_s=0,
        ),
    ],
)
def test_toml_round_trip(tmp_path: Path, params: ServiceParams) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(params.to_toml())
    assert ServiceParams.from_toml(path) == params


def test_from_toml_reads_a_hand_written_table(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(
        "[network]\nsimplify = true\n\n"
        "[service]\n"
        "max_wait_s = 600  # ten minutes\n"
        "max_ride_alpha = 2\n"
        "zone = [[37.505, 127.075], [37.505, 127.125], [37.535, 127.125], [37.535, 127.075], [37.505, 127.075]]\n"
    )
    p = ServiceParams.from_toml(path)
    assert p.max_wait_s == 600
    assert p.max_ride_alpha == 2.0 and type(p.max_ride_alpha) is float
    assert p.zone == ZONE
    assert p.max_walk_m == 400  # untouched keys keep their defaults


def test_from_toml_other_table_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text("[imoa]\nmax_wait_s = 300\n")
    assert ServiceParams.from_toml(path) == ServiceParams()  # no [service] table
    assert ServiceParams.from_toml(path, table="imoa").max_wait_s == 300


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[service]\nmax_wiat_s = 600\n", "service.max_wiat_s"),
        ("[service]\nmax_wait_s = 5\n", "service.max_wait_s"),
        ("[service]\nzone = [[37.5, 127.0], [37.6, 127.1]]\n", "service.zone"),
        ("service = 3\n", "service"),
    ],
)
def test_from_toml_names_the_bad_key(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    with pytest.raises(InvalidValueError) as info:
        ServiceParams.from_toml(path)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_from_toml_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ParamsFileError, match="file not found") as info:
        ServiceParams.from_toml(tmp_path / "missing.toml")
    assert info.value.path.endswith("missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[service\nmax_wait_s = 600\n")
    with pytest.raises(ParamsFileError, match="not valid TOML"):
        ServiceParams.from_toml(broken)
    with pytest.raises(ParamsFileError, match="directory"):
        ServiceParams.from_toml(tmp_path)
