"""OSM files are recognised by their content, whatever their name (issue 14, point 12).

A PBF file named ``.osm`` was reported as corrupt XML: the format was detected by content, but
pyosmium was then left to go by the suffix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

import routing
from routing import RoadNetwork


def test_a_pbf_file_named_osm_is_read_as_pbf(data_dir: Path, tmp_path: Path, helsinki_net: RoadNetwork) -> None:
    renamed = tmp_path / "helsinki.osm"
    shutil.copy(data_dir / "osm" / "helsinki.osm.pbf", renamed)
    assert routing.osm.detect_format(renamed) == "pbf"
    net = routing.load_network(renamed, cache=False)
    assert net.meta["format"] == "pbf"
    assert net.num_nodes == helsinki_net.num_nodes and np.array_equal(net.travel_time_s, helsinki_net.travel_time_s)


def test_an_xml_file_named_pbf_is_read_as_xml(data_dir: Path, tmp_path: Path, dongjak_net: RoadNetwork) -> None:
    renamed = tmp_path / "dongjak.osm.pbf"
    shutil.copy(data_dir / "osm" / "seoul_dongjak.osm", renamed)
    net = routing.load_network(renamed, cache=False)
    assert net.meta["format"] == "xml"
    assert net.num_nodes == dongjak_net.num_nodes and np.array_equal(net.length_m, dongjak_net.length_m)
