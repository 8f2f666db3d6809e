"""The on-disk format of the routing caches (road networks, contraction hierarchies).

One uncompressed ``.npz`` file (fast to load) per object: a JSON ``header`` whose first key is
the ``format_version`` of the object's layout, and one array per field. A file is written to a
temporary name and renamed, so a reader never sees half a file. A file of another format
version, or one that is not such a file, raises :class:`~routing.errors.NetworkFileError`
(callers that cache rebuild on it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import NetworkFileError

__all__ = ["load_npz", "save_npz"]


def save_npz(
    path: str | Path, header: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]], *, format_version: int
) -> Path:
    """Write ``header`` (JSON, after ``format_version``) and ``arrays`` to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format_version": format_version, **header})
    tmp = path.with_name(path.name + ".tmp.npz")
    named: dict[str, Any] = dict(arrays)  # (typed Any: numpy's stub gives savez a bool keyword too)
    np.savez(tmp, header=np.array(text), **named)
    tmp.replace(path)
    return path


def load_npz(
    path: str | Path, names: Iterable[str], *, format_version: int, what: str
) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The header and the arrays ``names`` of a file written by :func:`save_npz`.

    ``what`` names the object in the errors: ``"<what> cache format 0 is not 1; rebuild it"``
    for another format version, ``"not a saved <what> (...)"`` for anything unreadable.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            if header.get("format_version") != format_version:
                raise NetworkFileError(
                    path, f"{what} cache format {header.get('format_version')} is not {format_version}; rebuild it"
                )
            arrays = {k: data[k] for k in names}
    except NetworkFileError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise NetworkFileError(path, f"not a saved {what} ({exc})") from exc
    return header, arrays
