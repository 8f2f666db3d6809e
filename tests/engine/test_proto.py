"""The gRPC schema: the checked-in generated code is what ``make proto`` makes, and the schema keeps its rules.

* ``mobility/v1/*_pb2*.py(i)`` are regenerated with ``grpc_tools.protoc`` exactly as the
  Makefile does and compared byte for byte (a stale or hand-edited file fails: run `make proto`);
* every ``.proto`` file declares ``package mobility.v1;``;
* every enum starts with ``<ENUM_NAME>_UNSPECIFIED = 0`` and prefixes all its values with its
  own name (so that an unset field reads as "unspecified", never as a real value).
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import descriptor

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO_ROOT / "proto"
GENERATED_DIR = REPO_ROOT / "mobility" / "v1"
PROTOS = sorted((PROTO_DIR / "mobility" / "v1").glob("*.proto"))
GENERATED = re.compile(r".*_pb2(_grpc)?\.pyi?$")
REGENERATE = "run `make proto` to regenerate mobility/v1/ from proto/mobility/v1/*.proto"


def test_the_schema_is_there() -> None:
    assert {p.name for p in PROTOS} == {"common.proto", "driver.proto", "operator.proto", "rider.proto"}


def test_generated_code_is_not_stale(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        "-I",
        "proto",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        f"--grpc_python_out={tmp_path}",
        *(str(p.relative_to(REPO_ROOT)) for p in PROTOS),
    ]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"protoc failed ({done.returncode}): {done.stderr}"
    fresh_dir = tmp_path / "mobility" / "v1"
    fresh = {p.name for p in fresh_dir.iterdir() if GENERATED.match(p.name)}
    checked_in = {p.name for p in GENERATED_DIR.iterdir() if GENERATED.match(p.name)}
    assert len(fresh) == 3 * len(PROTOS), sorted(fresh)
    missing = sorted(fresh - checked_in)
    assert not missing, f"generated files missing from mobility/v1/: {missing}; {REGENERATE}"
    assert not checked_in - fresh, (
        f"mobility/v1/ holds generated files no .proto makes: {sorted(checked_in - fresh)}; "
        f"delete them and {REGENERATE}"
    )
    stale = [name for name in sorted(fresh) if (fresh_dir / name).read_bytes() != (GENERATED_DIR / name).read_bytes()]
    assert not stale, f"stale generated code in mobility/v1/: {', '.join(stale)}; {REGENERATE}"


def _code(text: str) -> str:
    """A .proto file without its comments."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", "", text)


@pytest.mark.parametrize("proto", PROTOS, ids=[p.name for p in PROTOS])
def test_every_proto_is_in_package_mobility_v1(proto: Path) -> None:
    packages = re.findall(r"^\s*package\s+([\w.]+)\s*;", _code(proto.read_text()), flags=re.MULTILINE)
    assert packages == ["mobility.v1"], f"{proto.name}: package {packages}"
    assert re.search(r'^\s*syntax\s*=\s*"proto3"\s*;', _code(proto.read_text()), flags=re.MULTILINE)


def _file_descriptors() -> list[descriptor.FileDescriptor]:
    files = []
    for proto in PROTOS:
        module = importlib.import_module(f"mobility.v1.{proto.stem}_pb2")
        files.append(module.DESCRIPTOR)
    return files


def _enums(files: list[descriptor.FileDescriptor]) -> Iterator[descriptor.EnumDescriptor]:
    def nested(message: descriptor.Descriptor) -> Iterator[descriptor.EnumDescriptor]:
        yield from message.enum_types
        for inner in message.nested_types:
            yield from nested(inner)

    for file in files:
        yield from file.enum_types_by_name.values()
        for message in file.message_types_by_name.values():
            yield from nested(message)


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def test_generated_descriptors_are_in_package_mobility_v1() -> None:
    files = _file_descriptors()
    assert {f.name for f in files} == {f"mobility/v1/{p.name}" for p in PROTOS}
    assert all(f.package == "mobility.v1" for f in files)
    services = {s.full_name for f in files for s in f.services_by_name.values()}
    assert services == {"mobility.v1.RiderService", "mobility.v1.DriverService", "mobility.v1.OperatorService"}


def test_every_enum_starts_with_unspecified_zero() -> None:
    enums = list(_enums(_file_descriptors()))
    assert len(enums) >= 7  # RiderClass, RideStatus, RejectReason, StopKind, StopEventKind, AssignmentKind, ...
    for enum in enums:
        prefix = _upper_snake(enum.name)
        first = enum.values[0]
        assert (first.name, first.number) == (f"{prefix}_UNSPECIFIED", 0), (
            f"{enum.full_name}: the first value must be {prefix}_UNSPECIFIED = 0, got {first.name} = {first.number}"
        )
        assert enum.values_by_number[0].name == f"{prefix}_UNSPECIFIED", enum.full_name
        assert all(v.name.startswith(f"{prefix}_") for v in enum.values), f"{enum.full_name}: unprefixed values"
        assert len({v.number for v in enum.values}) == len(enum.values), f"{enum.full_name}: aliased values"


def test_a_manifest_message_is_the_same_from_columns_and_from_stops_stored_one_by_one() -> None:
    """Manifest events carry columns; events stored before that (a dict per stop) still convert."""
    from engine import converters as cv

    columns = {
        "ride_id": ["r1", "r2", "r1"],
        "kind": ["pickup", "pickup", "dropoff"],
        "stop": [3, 9, 20],
        "planned_s": [28_800, 29_000, 29_400],
        "service_s": [30, 45, 30],
        "passengers": [1, 2, 1],
        "window_start_s": [28_700, 28_900, 0],
    }
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    new = cv.manifest("5-0", "veh0001", 28_000, columns)
    old = cv.manifest("5-0", "veh0001", 28_000, rows)
    assert new == old
    assert [(s.ride_id, s.stop, s.planned_s, s.passengers) for s in new.stops] == [
        ("r1", 3, 28_800, 1),
        ("r2", 9, 29_000, 2),
        ("r1", 20, 29_400, 1),
    ]
    assert new.stops[2].kind != new.stops[0].kind
