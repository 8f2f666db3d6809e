"""Many days of one scenario: replications over seeds and sweeps over a grid of settings, on Ray.

A *run* is one simulated day of a scenario file with some settings changed (the ``--set`` keys
of :mod:`sim.overrides`) and one seed; :func:`run_task` simulates it in this process and writes
its report folder (:func:`sim.report.write_report`, or :func:`sim.taxi_kpi.write_taxi_report`
for a shared-taxi scenario) exactly as ``mobility simulate --set ... --seed N`` would, so a run
of a sweep and a single run with the same settings and seed give the same KPIs.

:func:`execute` runs a list of runs: one after the other in this process with one worker, else
each as a Ray task (a local Ray started with ``num_cpus=workers``, no dashboard, quiet logs, its
temporary folder under ``/tmp`` and removed afterwards; or the cluster at ``ray_address``). A run
that fails becomes a result with its one-line error; the others go on.

* :func:`run_replications`: N seeds (seed, seed + 1, ...), folders ``rep<k>`` (seed + k), each
  main KPI (:data:`sim.compare.MAIN_KPIS`) as a mean with a 95 % confidence interval
  (:func:`mean_ci`, Student's t), written to ``replications.md`` and ``replications.json``.
* :func:`run_sweep`: every combination of the grid (times the replications), folders
  ``runs/<name>``, one row per combination in ``sweep.csv`` / ``sweep.md`` (the swept values, the
  KPIs, ``<kpi>_ci95`` half-widths with replications), one plot per main KPI the sweep moves.

On a Ray cluster the workers need the same package and data paths as this machine (the scenario
file and ``data_dir`` are read by the workers); the report files are sent back and written here.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import logging
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matching.errors import InvalidValueError
from matching.fares import DEFAULT_CURRENCY

from .compare import MAIN_KPIS, axis_scale, axis_unit, extra_kpis, format_kpi, is_money, main_kpis, run_currency
from .overrides import format_value
from .scenario import TaxiScenario, load_scenario

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ReplicationSummary",
    "RunResult",
    "RunTask",
    "SweepResult",
    "check_ray_address",
    "execute",
    "grid_combinations",
    "mean_ci",
    "run_day",
    "run_replications",
    "run_sweep",
    "run_task",
]

log = logging.getLogger(__name__)

#: Confidence level of the intervals of replications and sweeps.
CONFIDENCE = 0.95

Setting = tuple[str, Any]


# ---------------------------------------------------------------------------------- one run
def run_day(
    scenario_path: str | Path,
    folder: str | Path,
    *,
    seed: int | None = None,
    overrides: Sequence[Setting] = (),
    data_dir: str | Path | None = None,
    plots: bool = False,
) -> dict[str, Any]:
    """Simulate the scenario file with ``overrides`` and ``seed`` (None: the scenario's) in this
    process, write its report into ``folder``; return its ``summary.json`` as read back."""
    scenario = load_scenario(scenario_path, data_dir=data_dir, overrides=overrides)
    seed = scenario.seed if seed is None else seed
    folder = Path(folder)
    changed = {key: value for key, value in overrides}
    if isinstance(scenario, TaxiScenario):
        from .taxi import keep_paths, run_taxi_scenario
        from .taxi_kpi import write_taxi_report

        taxi_out = run_taxi_scenario(scenario, seed=seed, record_paths=keep_paths(scenario))
        meta = {"scenario": str(scenario.source), "seed": seed, "overrides": changed}
        files = write_taxi_report(taxi_out, folder, meta=meta, plots=plots)
    else:
        from .report import write_report
        from .simulator import Simulation

        sim = Simulation(scenario, seed=seed)
        sim.setup()
        out = sim.run()
        out.meta["overrides"] = changed
        files = write_report(out, folder, plots=plots)
    summary: dict[str, Any] = json.loads(files["summary"].read_text(encoding="utf-8"))
    return summary


@dataclass(frozen=True)
class RunTask:
    """One run: the scenario file, the settings changed (``overrides``: the ``--set`` keys, then
    the swept ones), the seed and the report folder. ``combination``: the swept settings alone,
    ``replication``: k of seed + k. ``ship_files``: write the report into a temporary folder and
    return its files (for a worker on another machine)."""

    index: int
    scenario: str
    folder: str
    seed: int
    overrides: tuple[Setting, ...] = ()
    combination: tuple[Setting, ...] = ()
    replication: int = 0
    data_dir: str | None = None
    plots: bool = False
    ship_files: bool = False

    @property
    def label(self) -> str:
        """The run in words: ``fleet.vehicles=8, service.max_wait_s=600, seed 3``."""
        parts = [f"{key}={format_value(value)}" for key, value in self.combination]
        return ", ".join([*parts, f"seed {self.seed}"])


@dataclass(frozen=True)
class RunResult:
    """What a run gave: its KPIs (main ones under their :data:`sim.compare.MAIN_KPIS` names, the
    components' as ``extras.<key>.<name>``) or its one-line ``error``, its wall time and the
    currency of its money (:func:`sim.compare.run_currency`; None for a failed run)."""

    index: int
    kind: str | None = None
    kpis: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None
    wall_s: float = 0.0
    files: dict[str, bytes] | None = None
    currency: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def one_line(exc: BaseException) -> str:
    """An exception as one line: ``Type: first line of its message``."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def run_task(task: RunTask) -> RunResult:
    """Simulate ``task`` (:func:`run_day`); never raises: a failure is the result's ``error``."""
    from .compare import run_kind

    t0 = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="mobility-run-")) if task.ship_files else Path(task.folder)
    try:
        summary = run_day(
            task.scenario,
            folder,
            seed=task.seed,
            overrides=task.overrides,
            data_dir=task.data_dir,
            plots=task.plots,
        )
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} if task.ship_files else None
        kpis = {**main_kpis(summary), **extra_kpis(summary)}
        wall = time.perf_counter() - t0
        return RunResult(task.index, run_kind(summary), kpis, None, wall, files, run_currency(summary))
    except Exception as exc:  # a failed run is reported, the others go on
        return RunResult(task.index, error=one_line(exc), wall_s=time.perf_counter() - t0)
    finally:
        if task.ship_files:
            shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------- many runs
#: Seconds to wait for a TCP connection to a Ray cluster's address before giving up on it.
RAY_CONNECT_TIMEOUT_S = 10.0

#: The port of a ``ray://`` client address that names none (Ray's default client server port).
RAY_CLIENT_PORT = 10001


def check_ray_address(address: str, *, option: str = "--ray-address", timeout_s: float = RAY_CONNECT_TIMEOUT_S) -> None:
    """Refuse a Ray cluster address that cannot be reached, within ``timeout_s``, before Ray is
    asked to connect (``ray.init`` retries an unreachable address for minutes).

    ``auto`` and ``local`` are left to Ray (they fail at once without a cluster). A ``HOST:PORT``
    or ``ray://HOST[:PORT]`` address (IPv6 hosts in brackets) is probed with one TCP connection:
    a name that does not resolve, a refused connection or a timeout is an
    :class:`InvalidValueError` naming ``option``. An address that accepts the connection but is
    no Ray cluster is not detected here."""
    text = address.strip()
    if text.lower() in ("auto", "local"):
        return
    allowed = "auto, HOST:PORT of a running Ray cluster's head, or ray://HOST:PORT of its client server"
    client = text.lower().startswith("ray://")
    hostport = text[len("ray://") :] if client else text
    hostport = hostport.split("/", 1)[0]
    match = re.fullmatch(r"\[(?P<v6>[^\]]+)\](?::(?P<p6>\d+))?|(?P<host>[^:\[\]]+)(?::(?P<port>\d+))?", hostport)
    if not match:
        raise InvalidValueError(option, f"cannot read the address {address!r}", allowed)
    host = match.group("v6") or match.group("host")
    port_text = match.group("p6") or match.group("port")
    if port_text is None and not client:
        raise InvalidValueError(option, f"{address!r} has no port", allowed)
    port = int(port_text) if port_text is not None else RAY_CLIENT_PORT
    if not 0 < port < 65536:
        raise InvalidValueError(option, f"port {port} in {address!r} is no TCP port", allowed)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except TimeoutError as exc:
        raise InvalidValueError(option, f"no answer from {host}:{port} within {timeout_s:g} s", allowed) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise InvalidValueError(option, f"cannot reach a Ray cluster at {address} ({reason})", allowed) from exc


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[1])


def execute(
    tasks: Sequence[RunTask],
    *,
    workers: int = 1,
    ray_address: str | None = None,
    progress: bool = True,
    desc: str = "runs",
    on_result: Callable[[RunTask, RunResult], None] | None = None,
) -> list[RunResult]:
    """Run ``tasks``; the results in the order of ``tasks``.

    With ``workers`` 1 and no ``ray_address``: one after the other in this process. Otherwise
    each task is a Ray task of one CPU: on a local Ray started here with ``num_cpus=workers``
    (no dashboard, logs at ERROR, workers' output not forwarded, temporary folder under /tmp,
    removed after; workers import this checkout's packages and get ``NUMBA_NUM_THREADS`` =
    CPUs / workers), or on the running cluster at ``ray_address`` (the report files come back
    and are written here). A tqdm bar on stderr (``progress``) advances as runs finish, and
    ``on_result(task, result)`` is called for each.
    """
    if workers < 1:
        raise ValueError(f"workers: got {workers}, allowed: 1 or more")
    results: dict[int, RunResult] = {}
    from tqdm import tqdm

    on_ray = workers > 1 or ray_address is not None
    session = _start_ray(workers=workers, ray_address=ray_address) if on_ray else None  # before the bar
    bar = tqdm(total=len(tasks), desc=desc, unit="run", file=sys.stderr, disable=not progress, leave=False)

    def done(task: RunTask, result: RunResult) -> None:
        if result.files:
            folder = Path(task.folder)
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in result.files.items():
                (folder / name).write_bytes(data)
        results[task.index] = dataclasses.replace(result, files=None)
        bar.update(1)
        bar.set_postfix_str(("failed: " if result.error else "") + task.label, refresh=False)
        if on_result is not None:
            on_result(task, results[task.index])

    try:
        if session is None:
            for task in tasks:
                done(task, run_task(task))
        else:
            _run_on_ray(tasks, ship=ray_address is not None, done=done)
    finally:
        bar.close()
        if session is not None:
            _stop_ray(*session)
    return [results[t.index] for t in tasks]


#: Ray's settings for connecting to a cluster (``ray_address``), set in the environment before
#: Ray is first imported unless given there: for ``HOST:PORT``, one attempt of 3 s per connection
#: instead of Ray's 20 with longer waits; for ``ray://``, the client's 3 attempts of 4 s each
#: instead of 5, 10 and 15 s. An address that answers but is no Ray cluster then fails in 10-15 s
#: instead of minutes.
RAY_CONNECT_ENV = {
    "RAY_NUM_REDIS_GET_RETRIES": "1",
    "RAY_gcs_rpc_server_connect_timeout_s": "3",
    "RAY_py_gcs_connect_timeout_s": "3",
    "RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S": "4",
    "RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S": "4",
}


def _connect_ray(ray: Any, ray_address: str, options: Mapping[str, Any]) -> None:
    """``ray.init(address=ray_address)``, checked first (:func:`check_ray_address`); a failure
    is one :class:`InvalidValueError` naming ``--ray-address`` (Ray's own warnings while it tries
    go to a temporary file, not to stderr)."""
    check_ray_address(ray_address)
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            ray.init(address=ray_address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InvalidValueError(
                "--ray-address", f"cannot connect to a Ray cluster at {ray_address}: {first}"
            ) from exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _start_ray(*, workers: int, ray_address: str | None) -> tuple[bool, str | None]:
    """Start a local Ray of ``workers`` CPUs or connect to ``ray_address`` unless Ray runs in
    this process already; ``(whether started here, temporary folder or None)``."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray_address is not None and "ray" not in sys.modules:
        for key, value in RAY_CONNECT_ENV.items():
            os.environ.setdefault(key, value)
    import ray

    started = not ray.is_initialized()
    temp_dir = None
    if started:
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
        }
        if ray_address is None:
            temp_dir = tempfile.mkdtemp(prefix="mobility-ray-", dir="/tmp" if Path("/tmp").is_dir() else None)
            threads = max(1, (os.cpu_count() or 1) // workers)
            env = {"PYTHONPATH": os.pathsep.join(p for p in (_package_root(), os.environ.get("PYTHONPATH")) if p)}
            env["NUMBA_NUM_THREADS"] = str(threads)
            if "MOBILITY_CACHE_DIR" in os.environ:
                env["MOBILITY_CACHE_DIR"] = os.environ["MOBILITY_CACHE_DIR"]
            ray.init(num_cpus=workers, _temp_dir=temp_dir, runtime_env={"env_vars": env}, **options)
        else:
            _connect_ray(ray, ray_address, options)
    return started, temp_dir


def _stop_ray(started: bool, temp_dir: str | None) -> None:
    import ray

    if started:
        ray.shutdown()
    if temp_dir is not None:
        shutil.rmtree(temp_dir, ignore_errors=True)


def _run_on_ray(tasks: Sequence[RunTask], *, ship: bool, done: Callable[[RunTask, RunResult], None]) -> None:
    """Each task a Ray task of one CPU (``ship``: its report files sent back); ``done`` as each ends."""
    import ray

    remote = ray.remote(num_cpus=1, max_retries=0)(run_task)
    pending = {}
    for task in tasks:
        if ship and not task.ship_files:
            task = dataclasses.replace(task, ship_files=True)
        pending[remote.remote(task)] = task
    for task, ref in _as_they_finish(pending):
        try:
            result = ray.get(ref)
        except Exception as exc:  # the worker died (memory, a signal): report it, go on
            result = RunResult(task.index, error=one_line(exc))
        done(task, result)


def _as_they_finish(pending: dict[Any, Any]) -> Iterator[tuple[Any, Any]]:
    """``(pending[ref], ref)`` for each Ray object ref of ``pending`` as it finishes (emptied on the way)."""
    import ray

    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            yield pending.pop(ref), ref


def map_on_ray(
    fn: Callable[..., Any],
    jobs: Sequence[tuple[Any, ...]],
    *,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[Any]:
    """``[fn(*job) for job in jobs]``, in order, each call a Ray task of one CPU on a local Ray
    of ``workers`` CPUs started as a sweep starts it (this checkout's packages, Numba threads
    shared out; :func:`execute`), or on the Ray already running in this process.
    ``progress(done, total)`` as calls finish."""
    started, temp_dir = _start_ray(workers=workers, ray_address=None)
    import ray

    try:
        remote = ray.remote(num_cpus=1)(fn)
        pending = {remote.remote(*job): k for k, job in enumerate(jobs)}
        results: dict[int, Any] = {}
        for k, ref in _as_they_finish(pending):
            results[k] = ray.get(ref)
            if progress:
                progress(len(results), len(jobs))
        return [results[k] for k in range(len(jobs))]
    finally:
        _stop_ray(started, temp_dir)


# ---------------------------------------------------------------------------------- statistics
def mean_ci(values: Sequence[float | None], *, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Mean of the values that are not None, and its ``confidence`` interval by Student's t:
    ``mean ± t(1 - (1 - confidence) / 2, n - 1) · s / sqrt(n)`` with ``s`` the sample standard
    deviation (n - 1 in the denominator). Keys ``n``, ``mean``, ``half_width``, ``low``, ``high``,
    ``std`` (None where n is too small: no mean without values, no interval with one)."""
    from scipy import stats

    xs = np.array([v for v in values if v is not None], np.float64)
    n = int(xs.size)
    out: dict[str, Any] = {"n": n, "mean": None, "std": None, "half_width": None, "low": None, "high": None}
    if n == 0:
        return out
    out["mean"] = float(xs.mean())
    if n >= 2:
        std = float(xs.std(ddof=1))
        half = float(stats.t.ppf(1 - (1 - confidence) / 2, n - 1)) * std / math.sqrt(n)
        out.update(std=std, half_width=half, low=out["mean"] - half, high=out["mean"] + half)
    return out


def _kpi_names(results: Sequence[RunResult]) -> list[str]:
    """Main KPI names any result has (in :data:`MAIN_KPIS` order), then the extras."""
    seen = dict.fromkeys(name for r in results for name in r.kpis)
    main = [k.name for k in MAIN_KPIS if k.name in seen]
    return main + [name for name in seen if name not in main]


# ---------------------------------------------------------------------------------- replications
@dataclass(frozen=True)
class ReplicationSummary:
    """The runs of :func:`run_replications`, each KPI's :func:`mean_ci` (with its values), the
    files written and the currency of the money KPIs."""

    tasks: list[RunTask]
    results: list[RunResult]
    kpis: dict[str, dict[str, Any]]
    files: dict[str, Path]
    currency: str = DEFAULT_CURRENCY

    @property
    def failed(self) -> list[tuple[RunTask, RunResult]]:
        return [(t, r) for t, r in zip(self.tasks, self.results, strict=True) if not r.ok]


def _ci_text(name: str, stats_: Mapping[str, Any], currency: str) -> tuple[str, str, str]:
    def text(value: float | None) -> str:
        return format_kpi(name, value, currency=currency)

    mean, half = stats_["mean"], stats_["half_width"]
    if half is None:
        return text(mean), "–", "–"
    interval = f"{text(stats_['low'])} .. {text(stats_['high'])}"
    return text(mean), interval, "± " + text(half).lstrip("+")


def replication_table(
    kpis: Mapping[str, Mapping[str, Any]], *, markdown: bool = False, currency: str = DEFAULT_CURRENCY
) -> str:
    """Each KPI's mean, 95 % interval and half-width, as aligned text or a Markdown table (money
    in ``currency``)."""
    header = ["KPI", "mean", f"{round(100 * CONFIDENCE)} % CI", "half-width", "n"]
    main = {k.name: k.label for k in MAIN_KPIS}
    body = [[main.get(name, name), *_ci_text(name, s, currency), str(s["n"])] for name, s in kpis.items()]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "| --- | ---: | ---: | ---: | ---: |"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in [header, *body]
    )


def run_replications(
    scenario_path: str | Path,
    out: str | Path,
    *,
    replications: int,
    seed: int | None = None,
    overrides: Sequence[Setting] = (),
    data_dir: str | Path | None = None,
    plots: bool = False,
    workers: int = 1,
    ray_address: str | None = None,
    progress: bool = True,
) -> ReplicationSummary:
    """``replications`` runs of the scenario with seeds ``seed``, ``seed + 1``, ... (``seed`` None:
    the scenario's), folder ``out/rep<k>`` with seed + k; write ``replications.json`` and
    ``replications.md`` (each KPI's mean and 95 % interval by Student's t over the runs)."""
    if replications < 1:
        raise ValueError(f"replications: got {replications}, allowed: 1 or more")
    scenario = load_scenario(scenario_path, data_dir=data_dir, overrides=overrides)  # bad settings: now
    base = scenario.seed if seed is None else seed
    out = Path(out)
    tasks = [
        RunTask(k, str(scenario_path), str(out / f"rep{k}"), base + k, tuple(overrides), (), k,
                None if data_dir is None else str(data_dir), plots)
        for k in range(replications)
    ]  # fmt: skip
    results = execute(tasks, workers=workers, ray_address=ray_address, progress=progress, desc=scenario.name)
    ok = [r for r in results if r.ok]
    currency = next((r.currency for r in ok if r.currency), DEFAULT_CURRENCY)
    kpis = {name: mean_ci([r.kpis.get(name) for r in ok]) for name in _kpi_names(ok)}
    for name, stats_ in kpis.items():
        stats_["values"] = [r.kpis.get(name) for r in ok]
    doc = {
        "scenario": scenario.name,
        "source": str(scenario_path),
        "overrides": {k: v for k, v in overrides},
        "seeds": [t.seed for t in tasks],
        "currency": currency,
        "confidence": CONFIDENCE,
        "method": "mean over the runs; interval mean ± t(0.975, n-1) · s / sqrt(n), Student's t, s the sample "
        "standard deviation",
        "kpis": kpis,
        "runs": [{"seed": t.seed, "folder": t.folder, "error": r.error} for t, r in zip(tasks, results, strict=True)],
    }
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "replications.json", "markdown": out / "replications.md"}
    files["json"].write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    text = [
        f"# {scenario.name}: {replications} replications",
        "",
        f"Seeds {tasks[0].seed} .. {tasks[-1].seed} (folders rep0 .. rep{replications - 1}), "
        + (", ".join(f"`{k}={format_value(v)}`" for k, v in overrides) or "the scenario as written")
        + ". Each KPI's mean over the runs and its 95 % confidence interval by Student's t "
        "(mean ± t(0.975, n - 1) · s / √n, s the sample standard deviation; n the runs with a value).",
        "",
        replication_table(kpis, markdown=True, currency=currency),
    ]
    failed = [(t, r) for t, r in zip(tasks, results, strict=True) if not r.ok]
    if failed:
        text += ["", "## Failed runs", ""] + [f"- seed {t.seed}: {r.error}" for t, r in failed]
    files["markdown"].write_text("\n".join(text) + "\n", encoding="utf-8")
    return ReplicationSummary(tasks, results, kpis, files, currency)


# ---------------------------------------------------------------------------------- sweeps
def grid_combinations(grid: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[Setting, ...]]:
    """Every combination of the grid's values, the first key varying slowest."""
    keys = [key for key, _ in grid]
    return [tuple(zip(keys, values, strict=True)) for values in itertools.product(*(v for _, v in grid))]


def _slug(combination: Sequence[Setting], seed: int) -> str:
    parts = [f"{key}-{format_value(value)}" for key, value in combination] + [f"seed-{seed}"]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(parts))[:150]


@dataclass(frozen=True)
class SweepResult:
    """The runs of :func:`run_sweep`, one row per combination, and the files written."""

    grid: list[tuple[str, list[Any]]]
    replications: int
    tasks: list[RunTask]
    results: list[RunResult]
    rows: list[dict[str, Any]]
    columns: list[str]
    files: dict[str, Path]

    @property
    def failed(self) -> list[tuple[RunTask, RunResult]]:
        return [(t, r) for t, r in zip(self.tasks, self.results, strict=True) if not r.ok]


def run_sweep(
    scenario_path: str | Path,
    out: str | Path,
    grid: Sequence[tuple[str, Sequence[Any]]],
    *,
    overrides: Sequence[Setting] = (),
    replications: int = 1,
    seed: int | None = None,
    data_dir: str | Path | None = None,
    workers: int = 1,
    ray_address: str | None = None,
    run_plots: bool = False,
    plots: bool = True,
    progress: bool = True,
) -> SweepResult:
    """Simulate every combination of ``grid`` (``[(key, values), ...]``) times ``replications``
    seeds (``seed`` or each combination's scenario seed, then + 1, ...) with ``overrides`` set
    first; each run's report in ``out/runs/<name>``; write ``sweep.csv``, ``sweep.md`` and, with
    ``plots``, ``sweep_<kpi>.png`` per main KPI that differs between combinations. Every
    combination's scenario is read before the first run, so a bad value stops the sweep at once,
    naming the field."""
    if not grid:
        raise ValueError("grid: no key to sweep (give at least one KEY=V1,V2,...)")
    if replications < 1:
        raise ValueError(f"replications: got {replications}, allowed: 1 or more")
    out = Path(out)
    combos = grid_combinations(grid)
    tasks: list[RunTask] = []
    names: set[str] = set()
    name = ""
    for combo in combos:
        scenario = load_scenario(scenario_path, data_dir=data_dir, overrides=[*overrides, *combo])
        name = name or scenario.name
        base = scenario.seed if seed is None else seed
        for k in range(replications):
            slug = _slug(combo, base + k)
            if slug in names:
                slug = f"{slug}__{len(tasks)}"
            names.add(slug)
            tasks.append(
                RunTask(len(tasks), str(scenario_path), str(out / "runs" / slug), base + k, (*overrides, *combo),
                        combo, k, None if data_dir is None else str(data_dir), run_plots)
            )  # fmt: skip
    results = execute(tasks, workers=workers, ray_address=ray_address, progress=progress, desc=f"{name} sweep")

    kpi_names = _kpi_names([r for r in results if r.ok])
    keys = [key for key, _ in grid]
    rows: list[dict[str, Any]] = []
    for combo in combos:
        mine = [(t, r) for t, r in zip(tasks, results, strict=True) if t.combination == combo]
        ok = [r for _, r in mine if r.ok]
        row: dict[str, Any] = dict(combo)
        row["runs"] = len(ok)
        row["failed"] = len(mine) - len(ok)
        row["currency"] = next((r.currency for r in ok if r.currency), None)  # of the money KPIs
        for kpi in kpi_names:
            if replications == 1:  # the run's own value, as its summary.json has it
                row[kpi] = ok[0].kpis.get(kpi) if ok else None
                continue
            stats_ = mean_ci([r.kpis.get(kpi) for r in ok])
            row[kpi] = stats_["mean"]
            row[f"{kpi}_ci95"] = stats_["half_width"]
        rows.append(row)
    columns = [*keys, "runs", "failed", "currency"]
    for kpi in kpi_names:
        columns += [kpi, f"{kpi}_ci95"] if replications > 1 else [kpi]

    out.mkdir(parents=True, exist_ok=True)
    files = {"csv": out / "sweep.csv", "markdown": out / "sweep.md"}
    with files["csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _csv_value(row.get(c)) for c in columns})
    result = SweepResult([(k, list(v)) for k, v in grid], replications, tasks, results, rows, columns, files)
    files["markdown"].write_text(sweep_markdown(result, name, overrides), encoding="utf-8")
    if plots:
        main = [k.name for k in MAIN_KPIS if k.name in kpi_names]
        currencies = {row["currency"] for row in rows if row["currency"]}
        for kpi in main:  # a KPI the sweep did not move (e.g. the requests) gets no plot
            if is_money(kpi) and len(currencies) > 1:
                continue  # amounts in different currencies on one axis would mislead
            if len({row.get(kpi) for row in rows if row.get(kpi) is not None}) > 1:
                files[f"plot_{kpi}"] = out / f"sweep_{kpi}.png"
                plot_sweep(result, kpi).savefig(files[f"plot_{kpi}"], format="png")
    return result


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple | Mapping | bool):
        return format_value(value)
    return value


def sweep_markdown(result: SweepResult, name: str, overrides: Sequence[Setting]) -> str:
    """``sweep.md``: what was swept, then one row per combination with the main KPIs (mean and,
    with replications, ± the 95 % half-width), then the failed runs."""
    keys = [key for key, _ in result.grid]
    main = [k for k in MAIN_KPIS if any(k.name in row for row in result.rows)]
    swept = "; ".join(f"`{k}` = {', '.join(format_value(v) for v in values)}" for k, values in result.grid)
    text = [
        f"# {name}: a sweep of {len(result.rows)} combinations"
        + (f" x {result.replications} seeds" if result.replications > 1 else ""),
        "",
        f"Swept: {swept}."
        + (f" Set for every run: {', '.join(f'`{k}={format_value(v)}`' for k, v in overrides)}." if overrides else ""),
    ]
    if result.replications > 1:
        text.append(
            "Each value is the mean over the seeds ± the half-width of its 95 % confidence interval "
            "(Student's t, n - 1 degrees of freedom)."
        )
    text += ["", "| " + " | ".join([*keys, "runs", *(k.label for k in main)]) + " |"]
    text.append("|" + " --- |" * len(keys) + " ---: |" * (1 + len(main)))
    for row in result.rows:
        runs = f"{row['runs']}" + (f" ({row['failed']} failed)" if row["failed"] else "")
        cells = [*(format_value(row[k]) for k in keys), runs]
        currency = row.get("currency") or DEFAULT_CURRENCY
        for k in main:
            value, half = row.get(k.name), row.get(f"{k.name}_ci95")
            cell = format_kpi(k.name, value, currency=currency)
            if half is not None:
                cell += " ± " + format_kpi(k.name, half, currency=currency)
            cells.append(cell)
        text.append("| " + " | ".join(cells) + " |")
    failed = result.failed
    if failed:
        text += ["", "## Failed runs", ""] + [f"- {t.label}: {r.error}" for t, r in failed]
    text += ["", "Each run's report: `runs/<settings>__seed-<seed>/`. All KPIs, extras included: `sweep.csv`."]
    return "\n".join(text) + "\n"


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def plot_sweep(result: SweepResult, kpi: str) -> Figure:
    """One KPI against the first swept key, one line per value of the others (error bars: the 95 %
    half-widths with replications)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.5), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    (x_key, x_values), rest = result.grid[0], result.grid[1:]
    numeric = _numeric(x_values)
    positions = [float(v) for v in x_values] if numeric else list(range(len(x_values)))
    label_of = {k.name: k.label for k in MAIN_KPIS}
    currency = next((r["currency"] for r in result.rows if r.get("currency")), DEFAULT_CURRENCY)
    unit = axis_unit(kpi, currency)
    scale = axis_scale(kpi, currency)
    series = grid_combinations(rest) if rest else [()]
    for combo in series:
        ys, errs = [], []
        for xv in x_values:
            row = next(r for r in result.rows if r[x_key] == xv and all(r[k] == v for k, v in combo))
            y, half = row.get(kpi), row.get(f"{kpi}_ci95")
            ys.append(np.nan if y is None else scale * y)
            errs.append(0.0 if half is None else scale * half)
        label = ", ".join(f"{k}={format_value(v)}" for k, v in combo) or None
        ax.errorbar(positions, ys, yerr=errs if any(errs) else None, marker="o", capsize=3, label=label)
    if not numeric or len(x_values) <= 12:
        ax.set_xticks(positions, [format_value(v) for v in x_values])
    ax.set_xlabel(x_key)
    ylabel = label_of.get(kpi, kpi)
    ax.set_ylabel(f"{ylabel} ({unit})" if unit else ylabel)
    if rest:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    reps = result.replications
    ax.set_title(f"{ylabel} against {x_key}" + (f" (mean of {reps} seeds, 95 % CI)" if reps > 1 else ""))
    return fig
