"""The routing caches' file format (routing.npz): one helper writes and reads networks and
contraction hierarchies; a file of another format version is refused, so the caller rebuilds it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from routing import ContractionHierarchy, NetworkFileError, RoadNetwork, Router, synthetic_city
from routing.npz import load_npz, save_npz


def test_a_file_round_trips_with_its_format_version_first(tmp_path: Path) -> None:
    arrays = {"a": np.arange(3, dtype=np.int32), "b": np.ones(2)}
    path = save_npz(tmp_path / "sub" / "x.npz", {"name": "x"}, arrays, format_version=7)
    assert path.exists() and not list(path.parent.glob("*.tmp.npz"))
    with np.load(path, allow_pickle=False) as data:
        assert list(json.loads(str(data["header"]))) == ["format_version", "name"]
    header, loaded = load_npz(path, ["a", "b"], format_version=7, what="thing")
    assert header == {"format_version": 7, "name": "x"}
    assert loaded["a"].dtype == np.int32 and loaded["a"].tolist() == [0, 1, 2]
    with pytest.raises(NetworkFileError, match="thing cache format 7 is not 8; rebuild it"):
        load_npz(path, ["a"], format_version=8, what="thing")
    with pytest.raises(NetworkFileError, match="not a saved thing"):
        load_npz(path, ["c"], format_version=7, what="thing")


def _with_version(path: Path, version: int) -> None:
    with np.load(path, allow_pickle=False) as data:
        contents = {k: data[k] for k in data.files}
    header = json.loads(str(contents.pop("header")))
    header["format_version"] = version
    np.savez(path, header=np.array(json.dumps(header)), **contents)


def test_networks_and_hierarchies_of_another_format_version_are_refused(tmp_path: Path) -> None:
    net = synthetic_city(16, seed=3)
    ch = Router(net).ch
    net_path, ch_path = net.save(tmp_path / "net.npz"), ch.save(tmp_path / "ch.npz")
    assert RoadNetwork.load(net_path).weights_fingerprint() == net.weights_fingerprint()
    assert ContractionHierarchy.load(ch_path).fingerprint == ch.fingerprint
    _with_version(net_path, 0)
    _with_version(ch_path, 0)
    with pytest.raises(NetworkFileError, match="network cache format 0 is not 2"):
        RoadNetwork.load(net_path)
    with pytest.raises(NetworkFileError, match="contraction hierarchy cache format 0 is not 1"):
        ContractionHierarchy.load(ch_path)
