"""The one place for Numba settings used by every kernel in this project.

``NUMBA_CACHE`` keeps compiled machine code on disk (``__pycache__`` next to the source,
or ``$NUMBA_CACHE_DIR``) so that only the first run on a machine pays the compile time.
Set the environment variable ``MOBILITY_NUMBA_CACHE=0`` to switch it off.

Numba bakes module-level constants (``INF``, ``UNREACHABLE``) into compiled code and its
cache is keyed by the kernel's own source file: after changing a constant here, clear the
cache (``make clean``, or delete the ``__pycache__`` folders) so that no stale kernel is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit

NUMBA_CACHE: bool = os.environ.get("MOBILITY_NUMBA_CACHE", "1") not in ("0", "false", "no")

_F = TypeVar("_F", bound=Callable[..., Any])


def kernel(fn: _F) -> _F:
    """Compile a serial kernel: ``nopython`` mode, releases the GIL, cached on disk."""
    return cast(_F, njit(cache=NUMBA_CACHE, nogil=True)(fn))


def parallel_kernel(fn: _F) -> _F:
    """Compile a kernel that uses ``prange`` (Numba's thread pool; see ``numba.set_num_threads``)."""
    return cast(_F, njit(cache=NUMBA_CACHE, nogil=True, parallel=True)(fn))


#: Integer type of travel times and lengths stored per edge.
WEIGHT_DTYPE = np.int32
#: Integer type of node and edge indices.
INDEX_DTYPE = np.int32
#: Integer type of path distances inside kernels and in the public API.
DIST_DTYPE = np.int64

#: Returned for a pair of nodes with no path between them (2**60 s). It is larger than any
#: real travel time (edges take at most 10**7 s, so a path would need over 10**11 edges to
#: reach it) and two of them can be added without overflowing ``int64``.
UNREACHABLE: int = 2**60
#: Internal infinity of the kernels (never returned).
INF: int = 2**62


def leaf_kernel(fn: _F) -> _F:
    """A serial kernel that allocates nothing, compiled without Numba's reference counting.

    The schedule, insertion and route-edit kernels are small and called millions of times with
    the named tuples of :mod:`routing.schedule`. With reference counting, every array passed to
    a kernel or read from a tuple costs atomic reference-count updates on each call; measured on
    Li & Lim lr1_4_1, that made the local searches twice as slow as with loose arrays. Without
    it they are faster than either. Such a kernel must not create an array (``np.empty``,
    ``.copy()``, a slice assignment that may need a temporary, ...) nor return one; it reads and
    writes the arrays it is given, element by element, and may take views of them.
    """
    options: dict[str, Any] = {"cache": NUMBA_CACHE, "nogil": True, "_nrt": False}  # _nrt: not in the stubs
    return cast(_F, njit(**options)(fn))
