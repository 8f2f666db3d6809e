"""The command line around the live engine: bad stores and unreachable engines in one line, TLS and
token files from the command line (``mobility serve`` and ``mobility simulate --engine``).

Each command runs as a real subprocess (``python -m mobility.cli``), so what is checked is what a
user sees: the exit status and the lines on stderr, never a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.engine.conftest import free_port

REPO = Path(__file__).resolve().parents[1]


def mobility(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mobility.cli ARGS`` from the repository; its exit status and output."""
    return subprocess.run(
        [sys.executable, "-m", "mobility.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed on stderr (exit status 2, no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("mobility: error: "), lines
    return lines[0]


def test_serve_with_an_unknown_store_says_which_forms_are_allowed() -> None:
    line = one_error_line(mobility("serve", "--store", "mongodb://x", "--port", "0"))
    assert "store" in line and "'mongodb://x'" in line
    assert '"memory"' in line and "redis://host:port[/db]" in line


def test_serve_with_a_malformed_redis_url_names_the_fault() -> None:
    line = one_error_line(mobility("serve", "--store", "redis://localhost:port", "--port", "0"))
    assert "invalid port" in line and "redis://host:port[/db]" in line


def test_simulate_against_no_engine_fails_before_the_run(tmp_path: Path, data_dir: Path) -> None:
    port = free_port()  # nothing listens there
    out = tmp_path / "run"
    result = mobility("simulate", "imod_jamsil", "--data-dir", str(data_dir), "--engine", f"127.0.0.1:{port}",
                      "--out", str(out))  # fmt: skip
    line = one_error_line(result)
    assert f"127.0.0.1:{port}" in line and "cannot be reached" in line
    assert "simulating" not in result.stdout  # checked before the day starts
    assert not out.exists()
