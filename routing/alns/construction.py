"""Construction: a first solution (or the completion of a given one) by a repair operator."""

from __future__ import annotations

import numpy as np

from ..config import kernel
from ..schedule import insertion_scratch, prepare_route
from .edits import backup_for
from .repair import repair


@kernel
def construct(pb, rq, w, rt, assign, op):
    """Prepare every route and insert all unassigned requests with repair operator ``op``.

    Returns the number of requests left unassigned.
    """
    nveh = rt.length.shape[0]
    n_nodes = pb.kind.shape[0]
    max_len = rt.nodes.shape[1]
    sc = insertion_scratch(max_len, n_nodes)
    pos_scratch = sc.position
    for v in range(nveh):
        prepare_route(v, pb, rt, pos_scratch)
    unassigned = np.empty(assign.shape[0], np.int64)
    nu = 0
    for r in range(assign.shape[0]):
        if assign[r] < 0:
            unassigned[nu] = r
            nu += 1
    # np.int64: else Numba may type nu as the literal 0 and compile repair (and all it calls) twice
    return repair(op, unassigned, np.int64(nu), rq, assign, pb, rt, w, 0.0, backup_for(rt), sc)
