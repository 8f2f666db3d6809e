"""One running SUMO simulation in this process (libsumo), opened and always closed.

libsumo runs SUMO inside the Python process: no socket, no second process, about ten times
faster than TraCI for the many small calls a closed loop makes. It holds one simulation per
process, so :class:`SumoSession` refuses a second one while the first is open (a clear error
instead of SUMO's own state being reset under the first). Nothing needs a display; ``gui=True``
runs ``sumo-gui`` through TraCI instead, where a display exists.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from .tools import SumoError, binary, sumo_env

_lock = threading.Lock()
_open: list[SumoSession] = []


class SumoSession:
    """``with SumoSession(net_file, routes=[...], begin_s=..., seed=...) as sumo:`` gives the
    libsumo module (``sumo.simulation.step()``, ``sumo.vehicle...``), started on the network
    with the route files, and closes it on exit, also on an error.

    step_s: the simulation step (s); seed: SUMO's random seed (driver imperfection, departure
    lanes ...); extra: further ``sumo`` options (e.g. ``["--device.rerouting.probability", "1"]``);
    gui: run ``sumo-gui`` over TraCI (needs a display).
    """

    def __init__(
        self,
        net_file: str | Path,
        *,
        routes: list[str | Path] | None = None,
        additional: list[str | Path] | None = None,
        begin_s: float = 0.0,
        end_s: float | None = None,
        step_s: float = 1.0,
        seed: int = 0,
        extra: list[str] | None = None,
        gui: bool = False,
    ) -> None:
        if step_s <= 0:
            raise ValueError(f"step_s: must be > 0 seconds, got {step_s!r}")
        self.args = [
            "-n",
            str(net_file),
            "--begin",
            f"{begin_s:g}",
            "--step-length",
            f"{step_s:g}",
            "--seed",
            str(int(seed)),
            "--no-step-log",
            "true",
            "--no-warnings",
            "false" if os.environ.get("MOBILITY_SUMO_WARNINGS") else "true",
            "--duration-log.disable",
            "true",
            "--time-to-teleport",
            "300",  # a vehicle stuck for 5 min jumps ahead (SUMO's default), counted in the KPIs
        ]
        if end_s is not None:
            self.args += ["--end", f"{end_s:g}"]
        if routes:
            self.args += ["-r", ",".join(str(r) for r in routes)]
        if additional:
            self.args += ["-a", ",".join(str(a) for a in additional)]
        self.args += list(extra or [])
        self.gui = gui
        self.module: Any = None

    def __enter__(self) -> Any:
        with _lock:
            if _open:
                raise SumoError("a SUMO simulation is already running in this process (libsumo holds one at a time)")
            _open.append(self)
        try:
            if self.gui:
                import traci

                os.environ.setdefault("SUMO_HOME", sumo_env()["SUMO_HOME"])
                traci.start([str(binary("sumo-gui")), *self.args])
                self.module = traci
            else:
                import libsumo

                libsumo.start([str(binary("sumo")), *self.args])
                self.module = libsumo
        except Exception as exc:
            with _lock:
                _open.remove(self)
            raise SumoError(f"SUMO did not start: {exc}") from exc
        return self.module

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.module is not None:
                self.module.close()
        finally:
            self.module = None
            with _lock:
                if self in _open:
                    _open.remove(self)
