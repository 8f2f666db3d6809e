"""Where SUMO is and how its programs are run.

SUMO comes from PyPI (``eclipse-sumo`` for the programs and data, ``libsumo`` for the in-process
API, ``sumolib`` for reading its files); nothing here needs a display. The programs are run as
subprocesses with ``SUMO_HOME`` set, and a failure is one :class:`SumoError` naming the program
and the last lines it wrote, never a bare ``CalledProcessError``.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path


class SumoError(RuntimeError):
    """SUMO is missing, or one of its programs failed (the message says which and why)."""


@cache
def sumo_home() -> Path:
    """SUMO's installation folder: ``$SUMO_HOME`` when set, else the ``eclipse-sumo`` package's."""
    env = os.environ.get("SUMO_HOME")
    if env and (Path(env) / "bin").is_dir():
        return Path(env)
    try:
        import sumo
    except ImportError as exc:
        raise SumoError("SUMO is not installed: `pip install eclipse-sumo libsumo` (make setup installs them)") from exc
    return Path(sumo.SUMO_HOME)


def binary(name: str) -> Path:
    """The path of one of SUMO's programs (``sumo``, ``netconvert``, ``duarouter`` ...)."""
    path = sumo_home() / "bin" / name
    if not path.exists():
        raise SumoError(f"SUMO program {name!r} not found in {sumo_home() / 'bin'}")
    return path


@cache
def sumo_version() -> str:
    """The version of the installed SUMO (``1.28.0``), part of every cache key."""
    out = run_tool("sumo", ["--version"], timeout_s=60)
    first = out.splitlines()[0] if out else ""
    return first.rsplit(" ", 1)[-1] if first else "unknown"


def sumo_env() -> dict[str, str]:
    """The environment for SUMO's programs and tools (``SUMO_HOME`` set)."""
    env = dict(os.environ)
    env["SUMO_HOME"] = str(sumo_home())
    return env


def run_tool(name: str, args: list[str], *, timeout_s: float = 3600.0, cwd: Path | None = None) -> str:
    """Run SUMO program ``name`` with ``args``; return its standard output.

    Raises:
        SumoError: the program is missing, failed (with the last lines of its messages) or
            ran longer than ``timeout_s``.
    """
    cmd = [str(binary(name)), *args]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, env=sumo_env(), cwd=cwd, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SumoError(f"{name} ran longer than {timeout_s:.0f} s and was stopped") from exc
    if proc.returncode != 0:
        raise _failure(name, proc)
    return proc.stdout


def run_python_tool(
    script: str,
    args: list[str],
    *,
    output: Path,
    timeout_s: float = 3600.0,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Run one of SUMO's Python tools (``tools/<script>``, e.g. ``randomTrips.py``) with this
    Python, ``SUMO_HOME`` set and ``env`` added; it must write ``output``.

    Raises:
        SumoError: the tool failed (with the last lines of its messages), wrote no ``output``, or
            ran longer than ``timeout_s``.
    """
    import sys

    cmd = [sys.executable, str(sumo_home() / "tools" / script), *args]
    full_env = {**sumo_env(), **(env or {})}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, env=full_env, cwd=cwd, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SumoError(f"{script} ran longer than {timeout_s:.0f} s and was stopped") from exc
    if proc.returncode != 0 or not output.exists():
        raise _failure(script, proc)


def _failure(name: str, proc: subprocess.CompletedProcess[str]) -> SumoError:
    lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
    tail = "\n  ".join(lines[-8:]) or "(no message)"
    return SumoError(f"{name} failed (exit {proc.returncode}):\n  {tail}")
