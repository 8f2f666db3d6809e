"""Regenerate the Python code of the ``mobility.v1`` API beside its schema (``make proto``).

``protoc`` runs with ``-I proto``, so the schema's files keep their names (``mobility/v1/rider.proto``)
and the wire does not change: package ``mobility.v1``, the same services and the same file
descriptors for reflection. protoc writes the generated modules as if ``mobility.v1`` were a
top-level Python package (``from mobility.v1 import common_pb2``); they live in
``proto.mobility.v1``, so one fix-up rewrites those imports and the module names given to the
protobuf builder. Nothing else in the generated files is touched. The stale-code test
(tests/engine/test_proto.py) regenerates through :func:`generate` and compares byte for byte.

Run it from the repository root: ``python -m proto.generate`` (needs grpcio-tools, a dev dependency).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

#: The folder that holds this module: ``-I`` for protoc, and where the generated code goes.
PROTO_ROOT = Path(__file__).resolve().parent
#: The Python package the generated modules live in, and the one protoc writes them for.
PACKAGE = "proto.mobility.v1"
PROTOC_PACKAGE = "mobility.v1"

_IMPORT = re.compile(rf"^from {re.escape(PROTOC_PACKAGE)} import ", flags=re.MULTILINE)
_BUILDER_NAME = re.compile(rf"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')({re.escape(PROTOC_PACKAGE)}\.)")


def schema_files(root: Path = PROTO_ROOT) -> list[Path]:
    """The ``.proto`` files of the API, sorted."""
    return sorted((root / "mobility" / "v1").glob("*.proto"))


def fix_up(text: str) -> str:
    """Generated code with its imports of ``mobility.v1``, and the module name it gives the
    protobuf builder, moved to ``proto.mobility.v1``."""
    text = _IMPORT.sub(f"from {PACKAGE} import ", text)
    return _BUILDER_NAME.sub(rf"\g<1>{PACKAGE}.", text)


def generate(out_dir: Path = PROTO_ROOT) -> list[Path]:
    """Run protoc on every schema file into ``out_dir`` (as ``mobility/v1/*_pb2*.py(i)``), fix the
    imports up, and return the generated files. Raises RuntimeError with protoc's message if it fails."""
    protos = schema_files()
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        "-I",
        str(PROTO_ROOT),
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(p) for p in protos),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"protoc failed ({done.returncode}): {done.stderr.strip()}")
    generated = sorted(p for p in (out_dir / "mobility" / "v1").iterdir() if re.match(r".*_pb2(_grpc)?\.pyi?$", p.name))
    for path in generated:
        text = path.read_text()
        fixed = fix_up(text)
        if fixed != text:
            path.write_text(fixed)
    return generated


def main() -> None:
    for path in generate():
        print(path.relative_to(PROTO_ROOT.parent))


if __name__ == "__main__":
    main()
