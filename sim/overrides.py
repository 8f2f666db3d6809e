"""Changes to a scenario file's TOML tables given on the command line (``--set KEY=VALUE``).

A planner varies a scenario without editing its file: ``--set fleet.vehicles=24`` sets the key
``vehicles`` of the table ``[fleet]``. Keys are dotted paths into the parsed TOML (a whole number
picks an element of an array of tables, from 0: ``subzones.zones.0.vehicles=4``); values are TOML literals
(``24``, ``0.5``, ``true``, ``"flat"``, ``[1, 2]``, ``{ 1 = 0.8, 2 = 0.2 }``), and a bare word that
is no TOML literal is taken as a string (``demand.profile=flat``, ``scenario.start=07:00``).

The changes are applied to the parsed TOML *before* the scenario is validated
(:func:`sim.scenario.load_scenario`), so a bad value is reported by the scenario's own check,
naming the field (``fleet.vehicles: got 0 (allowed: whole numbers 1 .. 10000)``), and so is an
unknown section or key (``fleet.vehicels: unknown key (allowed: ...)``).
"""

from __future__ import annotations

import copy
import datetime
import re
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from matching.deployment import ConfigError

__all__ = ["apply_overrides", "format_value", "parse_assignment", "parse_grid", "parse_value", "split_values"]

#: One part of a dotted key: a TOML bare key (letters, digits, ``_`` and ``-``).
_KEY_PART = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_value(text: str) -> Any:
    """A TOML literal (number, string, boolean, array, inline table); a bare word that is none of
    these, or a date or time, is the string itself (``flat``, ``07:00``, ``07:00:00``)."""
    text = text.strip()
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    if isinstance(value, datetime.date | datetime.time):
        return text  # scenario times are read from strings ("HH:MM:SS")
    return value


def _check_key(key: str, option: str) -> tuple[str, ...]:
    parts = tuple(key.strip().split("."))
    if not key.strip() or not all(_KEY_PART.match(p) for p in parts):
        raise ConfigError(option, f"bad key {key.strip()!r}", "dotted TOML keys, e.g. fleet.vehicles")
    return parts


def parse_assignment(text: str, *, option: str = "--set") -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(KEY, value)`` (see :func:`parse_value`); :class:`ConfigError`
    naming ``option`` when there is no ``=``, the key is not a dotted key or the value is empty."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ConfigError(option, f"expected KEY=VALUE, got {text!r}", "e.g. fleet.vehicles=24")
    parts = _check_key(key, option)
    if not value.strip():
        raise ConfigError(option, f"no value for {key.strip()!r}", "a TOML value, e.g. 24, 0.5, true, flat")
    return ".".join(parts), parse_value(value)


def split_values(text: str) -> list[str]:
    """``"8,12,[1, 2],'a,b'"`` -> ``["8", "12", "[1, 2]", "'a,b'"]``: split at the commas outside
    brackets, braces and quotes."""
    out, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [part.strip() for part in out]


def parse_grid(text: str, *, option: str = "--grid") -> tuple[str, list[Any]]:
    """``"KEY=V1,V2,..."`` -> ``(KEY, [v1, v2, ...])`` (each value as :func:`parse_value`)."""
    key, sep, values = text.partition("=")
    if not sep:
        raise ConfigError(option, f"expected KEY=V1,V2,..., got {text!r}", "e.g. fleet.vehicles=8,12,16")
    parts = _check_key(key, option)
    items = split_values(values)
    if not values.strip() or any(not item for item in items):
        raise ConfigError(option, f"empty value in {text!r}", "values separated by commas, e.g. 8,12,16")
    parsed = [parse_value(item) for item in items]
    if len({format_value(v) for v in parsed}) != len(parsed):
        raise ConfigError(option, f"a value repeats in {text!r}", "distinct values")
    return ".".join(parts), parsed


def format_value(value: Any) -> str:
    """A value as written on the command line (``8``, ``0.5``, ``flat``, ``[1, 2]``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {format_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def apply_overrides(doc: Mapping[str, Any], overrides: Iterable[tuple[str, Any]] | Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the parsed TOML ``doc`` with each ``(dotted key, value)`` set, in order.

    Missing tables on the way are created (an unknown section is then the scenario's own error);
    a key that names a whole table replaces it, whatever the value (``fleet=3``: the scenario's
    own check then refuses a section that is no table); a key that runs into a value that is not
    a table, or an array index out of range, is a :class:`ConfigError` naming the key.
    """
    out: dict[str, Any] = copy.deepcopy(dict(doc))
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    for key, value in items:
        parts = _check_key(key, "--set")
        node: Any = out
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    entries = f"{'.'.join(parts[:depth])} has {len(node)} entries"
                    raise ConfigError(where, entries, f"0 .. {len(node) - 1}")
                index = int(part)
                if last:
                    node[index] = copy.deepcopy(value)
                else:
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[part] = copy.deepcopy(value)
                else:
                    node = node.setdefault(part, {})
            else:
                parent = ".".join(parts[:depth])
                raise ConfigError(key, f"{parent} is a value ({node!r}), not a table", f"keys of {parts[0]}")
    return out
