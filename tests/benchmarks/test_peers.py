"""Smoke tests of the peer solvers: two seconds each on a small instance, judged by the checker."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.peers.ortools_darp import solve_with_ortools
from benchmarks.peers.pyvrp_pdptw import solve_with_pyvrp
from routing.errors import InvalidArgumentError
from routing.instances import read_cordeau_darp, read_li_lim


def test_ortools_solves_a2_16_feasibly(data_dir: Path):
    problem = read_cordeau_darp(data_dir / "darp" / "cordeau2006" / "a2-16.txt")
    result = solve_with_ortools(problem, 2.0)
    assert result.feasible, result.violations
    assert result.num_vehicles <= 2
    assert sum(len(route) for route in result.routes) == 2 * problem.num_requests
    # Never better than the proven optimum (up to rounding), and not absurdly worse.
    assert problem.meta["bks"] - 1e-3 <= result.cost <= 1.5 * problem.meta["bks"]
    assert result.runtime_s < 10


def test_pyvrp_solves_lc101_feasibly(data_dir: Path):
    problem = read_li_lim(data_dir / "pdptw" / "li_lim_100" / "lc101.txt")
    result = solve_with_pyvrp(problem, 2.0, seed=1)
    assert result.feasible, result.violations
    assert result.num_vehicles >= problem.meta["bks_vehicles"]
    assert result.cost >= problem.meta["bks_distance"] - 1e-3 or result.num_vehicles > problem.meta["bks_vehicles"]
    assert result.runtime_s < 10


def test_peers_refuse_what_they_cannot_model(data_dir: Path):
    darp = read_cordeau_darp(data_dir / "darp" / "cordeau2006" / "a2-16.txt")
    with pytest.raises(InvalidArgumentError, match="ride-time limits"):
        solve_with_pyvrp(darp, 1.0)
    with pytest.raises(InvalidArgumentError, match="time_limit_s"):
        solve_with_ortools(darp, 0.0)
    with pytest.raises(InvalidArgumentError, match="open routes"):
        solve_with_ortools(darp.replace(vehicle_end=[-1, -1]), 1.0)
