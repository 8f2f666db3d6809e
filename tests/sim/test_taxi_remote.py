"""The shared-taxi day played in-process and against a live engine over gRPC is the same day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.server import create_server
from engine.settings import Settings
from sim.remote import EngineMismatch
from sim.scenario import TaxiScenario
from sim.taxi import TaxiSimOutput, run_taxi_scenario
from sim.taxi_kpi import taxi_kpis, validate_taxi_day
from sim.taxi_remote import RemoteTaxiBackend

# Forty minutes of a small fleet on the Jamsil extract, busy enough that rides are pooled, some
# rejected, and idle taxis sent toward them. The wall-clock budgets are far above what a batch
# of this size needs, so that no search is cut short: the day is then deterministic.
SCENARIO = """
[scenario]
name = "imoa_remote_check"
description = "4 shared taxis on Jamsil, 40 minutes, more riders than they can carry"
seed = 7
start = "07:00"
end = "07:40"

[service]
kind = "shared_taxi"

[network]
kind = "osm"
path = "osm/seoul_jamsil.osm"

[fleet]
vehicles = 4
shift_start = "07:00"
shift_end = "09:00"

[pooling]
capacity = 4
max_parties = 2
max_wait_s = 180
dwell_s = 20
batch_s = 30
batch_deadline_s = 120.0
trip_time_budget_s = 120.0
rebalance = true

[demand]
kind = "points"
total = 110
profile = "taxi_chicago"
group_sizes = { 1 = 0.8, 2 = 0.2 }
share_probability = 0.8
"""


def day_of(out: TaxiSimOutput) -> dict[str, Any]:
    """What must not differ between the two runs: each ride's fate, taxi and times, every drive
    and stop, and the KPIs (without the batches' wall-clock times and assignment details, which
    the engine does not report)."""
    kpis = taxi_kpis(out)
    kpis.pop("batches")
    kpis.pop("timings", None)
    return {
        "rides": [
            (
                r.id,
                out.status[i],
                out.reason[i],
                out.vehicle_ids[v] if (v := int(out.vehicle[i])) >= 0 else None,
                int(out.pickup_s[i]),
                int(out.dropoff_s[i]),
                bool(out.shared[i]),
                int(out.fare_krw[i]),
            )
            for i, r in enumerate(out.requests)
        ],
        "drives": {k: v.tolist() for k, v in out.drives.items()},
        "stops": {k: v.tolist() for k, v in out.stops.items()},
        "kpis": kpis,
        "ledger": out.ledger,
        "start_nodes": out.start_nodes.tolist() if out.start_nodes is not None else None,
    }


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("taxi_remote") / "imoa_remote_check.toml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def in_process(scenario_file: Path, data_dir: Path) -> TaxiSimOutput:
    return run_taxi_scenario(TaxiScenario.from_toml(scenario_file, data_dir=data_dir))


def test_the_remote_taxi_day_equals_the_in_process_day(
    scenario_file: Path, data_dir: Path, in_process: TaxiSimOutput
) -> None:
    scenario = TaxiScenario.from_toml(scenario_file, data_dir=data_dir)
    # another seed than the simulator's: the engine draws other start nodes, the taxis report theirs
    settings = Settings(scenario=scenario_file, data_dir=data_dir, port=0, clock="external", seed=scenario.seed + 1)
    server, port, core = create_server(settings, block_until_ready=True)
    backends: list[RemoteTaxiBackend] = []

    def connect(router: Any) -> RemoteTaxiBackend:
        backends.append(RemoteTaxiBackend(f"127.0.0.1:{port}", router, scenario.pooling))
        return backends[0]

    try:
        remote = run_taxi_scenario(scenario, backend_factory=connect)
        engine_taxis = core.taxi[core.directory.default]
        engine_nodes = [t.node for t in engine_taxis.dispatcher.taxis]
    finally:
        for b in backends:
            b.close()
        server.stop(0)
        core.stop()
    mine, theirs = day_of(in_process), day_of(remote)
    served = [r for r in mine["rides"] if r[1] == "completed"]
    assert len(mine["rides"]) > 50 and len(served) > 30  # a day with something to compare
    assert sum(r[6] for r in served) > 0  # some rides shared the taxi
    assert any(r[1] == "rejected" for r in mine["rides"])
    assert theirs["rides"] == mine["rides"]
    assert theirs == mine
    assert validate_taxi_day(remote) == []
    assert int((in_process.drives["kind"] == 2).sum()) > 0  # some rebalancing
    # every taxi ended where the simulator left it, in the engine too
    last = {int(v): int(n) for v, n in zip(remote.drives["vehicle"], remote.drives["to_node"], strict=True)}
    ends = [last.get(v, int(remote.start_nodes[v])) for v in range(len(remote.vehicle_ids))]  # type: ignore[index]
    assert engine_nodes == ends
    assert np.array_equal(in_process.max_onboard, remote.max_onboard)
    # the engine ran a batch exactly when the in-process one had something to decide
    assert [b.time_s for b in remote.batches] == [b.time_s for b in in_process.batches if b.status != "empty"]


def test_an_engine_with_another_fleet_is_refused(scenario_file: Path, data_dir: Path, tmp_path: Path) -> None:
    scenario = TaxiScenario.from_toml(scenario_file, data_dir=data_dir)
    other = tmp_path / "other.toml"
    other.write_text(SCENARIO.replace("vehicles = 4", "vehicles = 3"))
    settings = Settings(scenario=other, data_dir=data_dir, port=0, clock="external", seed=1)
    server, port, core = create_server(settings, block_until_ready=True)
    backends: list[RemoteTaxiBackend] = []

    def connect(router: Any) -> RemoteTaxiBackend:
        backends.append(RemoteTaxiBackend(f"127.0.0.1:{port}", router, scenario.pooling))
        return backends[0]

    try:
        with pytest.raises(EngineMismatch, match="runs 3 taxis, the scenario 4"):
            run_taxi_scenario(scenario, backend_factory=connect)
    finally:
        for b in backends:
            b.close()
        server.stop(0)
        core.stop()


def test_mobility_simulate_plays_a_taxi_scenario_against_an_engine(
    scenario_file: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mobility.cli import main

    tokens = tmp_path / "tokens.toml"
    tokens.write_text('[[tokens]]\ntoken = "operator-sim-1"\nrole = "operator"\nsubject = "sim"\n')
    token_file = tmp_path / "token"
    token_file.write_text("operator-sim-1\n")
    settings = Settings(scenario=scenario_file, data_dir=data_dir, port=0, clock="external", seed=0, tokens=tokens)
    server, port, core = create_server(settings, block_until_ready=True)
    common = ["simulate", str(scenario_file), "--data-dir", str(data_dir)]
    try:
        bad = tmp_path / "bad.txt"
        bad.write_text("not-the-token\n")
        assert (
            main([*common, "--engine", f"127.0.0.1:{port}", "--token-file", str(bad), "--out", str(tmp_path / "x")])
            == 2
        )
        assert "refused the token" in capsys.readouterr().err
        assert not (tmp_path / "x").exists()
        remote = tmp_path / "remote"
        argv = [*common, "--engine", f"127.0.0.1:{port}", "--token-file", str(token_file), "--out", str(remote)]
        assert main(argv) == 0
        capsys.readouterr()
        again = [*argv[:-1], str(tmp_path / "again")]
        assert main(again) == 2  # the engine has played a day already
        assert "freshly started engine" in capsys.readouterr().err
    finally:
        server.stop(0)
        core.stop()
    assert main([*common, "--out", str(tmp_path / "local")]) == 0
    for name in ("rides.csv", "drives.csv"):
        assert (remote / name).read_text() == (tmp_path / "local" / name).read_text()
