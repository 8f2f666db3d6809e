"""The live-engine benchmark (``mobility bench serve``) on one short round.

A consistency check, not a speed test: a real engine subprocess is loaded by clients running as
threads in two client processes, and what the round reports must add up (every answered
booking is counted once and seen on the operator's stream, nothing failed, the client
processes' CPU is measured, the Markdown describes the clients as they ran).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import serve


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "TLS"])
def test_a_short_round_adds_up(data_dir: Path, tmp_path: Path, tls: bool) -> None:
    result = serve.run(
        data_dir=data_dir,
        clients=(3,),
        seconds=1.5,
        stores=("memory",),
        modes=("at-once",),
        frontends=(0,),
        per_process=2,
        profile=False,
        tls=tls,
        out_dir=tmp_path,
        quick=True,
    )
    (r,) = result["rounds"]
    assert r["tls"] is tls  # with TLS every client and the operator stream spoke it (the engine takes nothing else)
    assert r["clients"] == 3 and r["client_processes"] == 2  # threads 0, 1 in one process, 2 in another
    assert r["bookings"] > 0 and r["errors"] == 0 and r["refused_bookings"] == 0
    assert r["bookings_missing_from_stream"] == 0
    assert r["bookings_per_s"] == pytest.approx(r["bookings"] / r["seconds"], rel=0.01)  # seconds are rounded
    assert r["clients_cpu_s"] > 0 and r["watcher_cpu_s"] > 0
    assert json.loads((tmp_path / "serve.json").read_text())["rounds"][0]["bookings"] == r["bookings"]
    md = (tmp_path / "serve.md").read_text()
    assert "2 to a process" in md
    assert ("| memory, TLS |" in md) is tls
    # A round of 1.5 s is a smoke test (as `mobility bench serve --quick`): no verdict on the sustained rate.
    assert result["quick"] and "**met**" not in md and "**not met**" not in md and "no verdict" in md
