"""The command line around the live engine: bad stores and unreachable engines in one line, TLS and
token files from the command line (``mobility serve`` and ``mobility simulate --engine``).

Each command runs as a real subprocess (``python -m mobility.cli``), so what is checked is what a
user sees: the exit status and the lines on stderr, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.certs import TLSFiles, make_tls_files
from tests.engine.conftest import free_port, serve_subprocess
from tests.sim.test_remote import SCENARIO

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


# ---------------------------------------------------------------------------- TLS from the command line
@pytest.fixture(scope="module")
def tls_engine(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[tuple[int, TLSFiles, Path, Path]]:
    """``mobility serve`` as a subprocess with mutual TLS (a front-end process) and tokens, on the
    small scenario of ``tests/sim/test_remote.py``; (port, certificates, scenario file, operator token file)."""
    folder = tmp_path_factory.mktemp("cli-tls")
    files = make_tls_files(folder)
    scenario = folder / "remote_check.toml"
    scenario.write_text(SCENARIO)
    tokens = folder / "tokens.toml"
    tokens.write_text('[[tokens]]\ntoken = "operator-cli-5e1d"\nrole = "operator"\nsubject = "*"\n')
    token_file = folder / "operator.token"
    token_file.write_text("operator-cli-5e1d\n")
    args = [
        "--scenario", str(scenario), "--seed", "4", "--data-dir", str(data_dir), "--clock", "external",
        "--frontends", "1", "--tokens", str(tokens), "--tls-cert", str(files.server_cert),
        "--tls-key", str(files.server_key), "--tls-client-ca", str(files.ca),
    ]  # fmt: skip
    with serve_subprocess(args, folder) as served:
        assert "TLS, client certificates required" in served.first_line
        yield served.port, files, scenario, token_file


def test_simulate_against_a_mutual_tls_engine_with_a_token_file(
    tls_engine: tuple[int, TLSFiles, Path, Path], data_dir: Path, tmp_path: Path
) -> None:
    port, files, scenario, token_file = tls_engine
    engine = ["--data-dir", str(data_dir), "--engine", f"127.0.0.1:{port}", "--no-plots"]
    mine = ["--tls-ca", str(files.ca), "--tls-cert", str(files.client_cert), "--tls-key", str(files.client_key)]
    result = mobility("simulate", str(scenario), *engine, *mine, "--token-file", str(token_file),
                      "--out", str(tmp_path / "run"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"playing riders and drivers against the engine at 127.0.0.1:{port}" in result.stdout
    requests = json.loads((tmp_path / "run" / "summary.json").read_text())["kpis"]["requests"]
    assert requests["total"] > 50 and requests["completed"] > 30  # the day was played over TLS

    no_certificate = mobility("simulate", str(scenario), *engine, "--tls-ca", str(files.ca), "--out", str(tmp_path))
    assert "cannot be reached (UNAVAILABLE" in one_error_line(no_certificate)
    plaintext = mobility("simulate", str(scenario), *engine, "--out", str(tmp_path / "plain"))
    assert "cannot be reached (UNAVAILABLE" in one_error_line(plaintext)
    no_token = mobility("simulate", str(scenario), *engine, *mine, "--out", str(tmp_path / "no-token"))
    assert "refused the token (UNAUTHENTICATED" in one_error_line(no_token)
    assert not (tmp_path / "no-token").exists()


def test_client_tls_options_need_an_engine_and_good_files(tmp_path: Path) -> None:
    line = one_error_line(mobility("simulate", "imod_jamsil", "--tls-ca", str(tmp_path / "ca.pem")))
    assert "--tls-ca is for an engine" in line
    missing = tmp_path / "missing.token"
    line = one_error_line(mobility("simulate", "imod_jamsil", "--engine", "127.0.0.1:1", "--token-file", str(missing)))
    assert f"token_file: {missing}: no such file" in line
    line = one_error_line(mobility("serve", "--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(missing)))
    assert f"tls_cert: {tmp_path / 'none.pem'}: no such file" in line
