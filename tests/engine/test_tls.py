"""TLS on the engine's port: who gets through, and bad certificate files refused in one line.

Every engine here is real (gRPC on a free port, the bundled ``imod_jamsil`` scenario) and the
certificates are made for the session (:mod:`tests.engine.certs`): a CA, a server certificate for
127.0.0.1 and localhost, a client certificate of that CA, and another CA with a client certificate
of its own. The whole server suite also runs over TLS (``engine_setup``'s "memory, TLS, front end"
in ``conftest.py``), and so does the bad-input suite (``test_bad_input.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine.settings import REDIS_PASSWORD_ENV, Settings
from engine.store import open_store
from matching.errors import InvalidValueError
from proto.client import ClientTLS, engine_channel, read_token_file
from proto.mobility.v1 import common_pb2, operator_pb2, rider_pb2, rider_pb2_grpc
from sim.remote import EngineUnreachable, RemoteBackend
from tests.engine.certs import TLSFiles
from tests.engine.conftest import SCENARIO, TOKENS, Engine, RedisServer, serve_subprocess

TIMEOUT = 20.0
SERVING = health_pb2.HealthCheckResponse.SERVING


def health(channel: grpc.Channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT).status


def refused(channel: grpc.Channel) -> grpc.RpcError:
    """The error of a quote on ``channel`` (which must fail: the connection is refused)."""
    request = rider_pb2.QuoteRequest(
        request_id="r1", origin=common_pb2.Place(stop=3), destination=common_pb2.Place(stop=20), passengers=1,
        now_s=8 * 3600,
    )  # fmt: skip
    with pytest.raises(grpc.RpcError) as info:
        rider_pb2_grpc.RiderServiceStub(channel).Quote(request, timeout=TIMEOUT)
    return info.value


@pytest.mark.parametrize("frontends", [0, 1], ids=["in-process", "front end"])
def test_a_tls_engine_takes_tls_clients_only(
    start_engine: Callable[..., Engine], tls_files: TLSFiles, frontends: int
) -> None:
    engine = start_engine(tls=tls_files, frontends=frontends)
    assert health(engine.channel) == SERVING
    target = f"127.0.0.1:{engine.port}"
    with engine_channel(target) as plaintext:
        assert refused(plaintext).code() == grpc.StatusCode.UNAVAILABLE
    with engine_channel(target, ClientTLS.from_files(tls_files.other_ca)) as wrong_ca:
        error = refused(wrong_ca)  # the server's certificate is not one the client trusts
        assert error.code() == grpc.StatusCode.UNAVAILABLE
    with engine_channel(f"localhost:{engine.port}", ClientTLS.from_files(tls_files.ca)) as by_name:
        assert health(by_name) == SERVING  # the certificate names localhost too


@pytest.mark.parametrize("frontends", [0, 1], ids=["in-process", "front end"])
def test_mutual_tls_needs_a_client_certificate_of_the_ca(
    start_engine: Callable[..., Engine], tls_files: TLSFiles, frontends: int
) -> None:
    engine = start_engine(tls=tls_files, client_certificates=True, frontends=frontends)
    assert health(engine.channel) == SERVING  # the fixture's channel presents tls_files.client_cert
    target = f"127.0.0.1:{engine.port}"
    with engine_channel(target, ClientTLS.from_files(tls_files.ca)) as no_certificate:
        assert refused(no_certificate).code() == grpc.StatusCode.UNAVAILABLE
    intruder = ClientTLS.from_files(tls_files.ca, tls_files.other_client_cert, tls_files.other_client_key)
    with engine_channel(target, intruder) as other_ca:
        assert refused(other_ca).code() == grpc.StatusCode.UNAVAILABLE
    with engine_channel(target) as plaintext:
        assert refused(plaintext).code() == grpc.StatusCode.UNAVAILABLE
    mine = ClientTLS.from_files(tls_files.ca, tls_files.client_cert, tls_files.client_key)
    with engine_channel(target, mine) as channel:
        assert health(channel) == SERVING


def test_the_simulators_client_speaks_tls_with_a_token_from_a_file(
    start_engine: Callable[..., Engine], tls_files: TLSFiles, tokens_file: Path, tmp_path: Path
) -> None:
    engine = start_engine(tls=tls_files, client_certificates=True, tokens=tokens_file)
    token_file = tmp_path / "operator.token"
    token_file.write_text(f"  {TOKENS['operator'][0]}\n")
    assert read_token_file(token_file) == TOKENS["operator"][0]
    target = f"127.0.0.1:{engine.port}"
    mine = ClientTLS.from_files(tls_files.ca, tls_files.client_cert, tls_files.client_key)
    remote = RemoteBackend(target, token=read_token_file(token_file), tls=mine)
    try:
        remote.check_engine()
        listed = remote.operator.ListVehicles(
            operator_pb2.ListVehiclesRequest(), timeout=remote.timeout_s, metadata=remote.metadata
        )
        assert len(listed.vehicles) == 16  # an operator's call: the token from the file went with it
        with pytest.raises(grpc.RpcError) as info:
            remote.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), timeout=TIMEOUT)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED  # the same channel without it
    finally:
        remote.close()
    without = RemoteBackend(target, tls=ClientTLS.from_files(tls_files.ca))  # no client certificate
    try:
        with pytest.raises(EngineUnreachable, match=rf"127\.0\.0\.1:{engine.port} cannot be reached \(UNAVAILABLE"):
            without.check_engine()
    finally:
        without.close()


# ---------------------------------------------------------------------------- bad files, one line each
def settings(**tls: Path | None) -> Settings:
    return Settings(scenario=SCENARIO, port=0, **tls)  # type: ignore[arg-type]


def test_bad_server_tls_files_are_refused_before_anything_starts(tls_files: TLSFiles, tmp_path: Path) -> None:
    cert, key, ca = tls_files.server_cert, tls_files.server_key, tls_files.ca
    missing = tmp_path / "missing.pem"
    unreadable = tmp_path / "unreadable.pem"
    unreadable.mkdir()  # a folder: reading it fails as an unreadable file would (tests may run as root)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    encrypted = tmp_path / "encrypted.key"
    key_object = serialization.load_pem_private_key(key.read_bytes(), password=None)
    encrypted.write_bytes(
        key_object.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    cases: list[tuple[dict[str, Path | None], str, str]] = [
        ({"tls_cert": missing, "tls_key": key}, "tls_cert", f"{missing}: no such file"),
        ({"tls_cert": unreadable, "tls_key": key}, "tls_cert", f"{unreadable}: cannot be read"),
        ({"tls_cert": garbage, "tls_key": key}, "tls_cert", "not a certificate in PEM form"),
        ({"tls_cert": cert, "tls_key": cert}, "tls_key", "not a private key in PEM form"),
        ({"tls_cert": cert, "tls_key": tls_files.client_key}, "tls_key", "is not the key of the certificate"),
        ({"tls_cert": cert, "tls_key": encrypted}, "tls_key", "the key is encrypted"),
        ({"tls_cert": cert}, "tls_key", "missing: tls_cert is given"),
        ({"tls_key": key}, "tls_cert", "missing: tls_key is given"),
        ({"tls_client_ca": ca}, "tls_client_ca", "client certificates need TLS"),
        ({"tls_cert": cert, "tls_key": key, "tls_client_ca": key}, "tls_client_ca", "not a CA certificate"),
        ({"tls_cert": cert, "tls_key": key, "tls_client_ca": missing}, "tls_client_ca", "no such file"),
    ]
    for given, field, message in cases:
        with pytest.raises(InvalidValueError) as info:
            settings(**given)
        assert info.value.field == field, (given, info.value)
        assert message in str(info.value), (given, info.value)
        assert "\n" not in str(info.value)
    assert settings(tls_cert=cert, tls_key=key, tls_client_ca=ca).server_tls() is not None
    assert settings().server_tls() is None


def test_bad_client_tls_files_and_token_files_are_refused(tls_files: TLSFiles, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(InvalidValueError, match=rf"tls_ca: {missing}: no such file"):
        ClientTLS.from_files(missing)
    with pytest.raises(InvalidValueError, match=r"tls_ca: .*not a CA certificate"):
        ClientTLS.from_files(tls_files.client_key)
    with pytest.raises(InvalidValueError, match=r"tls_key: .* is not the key of the certificate"):
        ClientTLS.from_files(tls_files.ca, tls_files.client_cert, tls_files.server_key)
    with pytest.raises(InvalidValueError, match="tls_key: missing"):
        ClientTLS.from_files(tls_files.ca, tls_files.client_cert)
    assert ClientTLS.from_files().ca is None  # the system's CAs
    for content, message in (("", "alone on one line"), ("a\nb\n", "alone on one line")):
        path = tmp_path / "token"
        path.write_text(content)
        with pytest.raises(InvalidValueError, match=rf"token_file: .*{message}"):
            read_token_file(path)
    with pytest.raises(InvalidValueError, match=r"token_file: .*no such file"):
        read_token_file(missing)


# ---------------------------------------------------------------------------- Redis over TLS, its password
def test_the_redis_password_comes_from_a_file_or_the_environment(
    redis_tls_server: RedisServer, tls_files: TLSFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = redis_tls_server.password
    assert password
    url = redis_tls_server.url
    certificates = {"redis_tls_ca": tls_files.ca, "redis_tls_cert": tls_files.client_cert,
                    "redis_tls_key": tls_files.client_key}  # fmt: skip
    password_file = tmp_path / "redis.password"
    password_file.write_text(password + "\n")
    monkeypatch.delenv(REDIS_PASSWORD_ENV, raising=False)
    from_file = Settings(scenario=SCENARIO, store=url, redis_password_file=password_file, **certificates)
    access = from_file.redis_access()
    assert access is not None and access.password == password
    assert password not in repr(from_file) and password not in repr(access)  # settings hold the file, not the secret
    store = open_store(url, access=access)
    try:
        assert store.ping()
    finally:
        store.close()
    monkeypatch.setenv(REDIS_PASSWORD_ENV, password)
    from_env = Settings(scenario=SCENARIO, store=url, **certificates).redis_access()
    assert from_env is not None and from_env.password == password
    password_file.write_text("from-the-file\n")  # the file wins over the environment
    access = Settings(scenario=SCENARIO, store=url, redis_password_file=password_file, **certificates).redis_access()
    assert access is not None and access.password == "from-the-file"

    empty = tmp_path / "empty"
    empty.write_text("\n")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"redis_password_file": tmp_path / "missing"}, "redis_password_file", "no such file"),
        ({"redis_password_file": empty}, "redis_password_file", "alone on one line"),
        ({"store": "memory", "redis_password_file": password_file}, "redis_password_file", "is for a Redis store"),
        ({"store": "redis://127.0.0.1:1"}, "redis_tls_ca", "needs a rediss:// store URL"),
        ({"redis_tls_key": None}, "redis_tls_key", "missing"),
        ({"redis_tls_ca": tls_files.client_key}, "redis_tls_ca", "not a CA certificate"),
        ({"redis_tls_key": tls_files.server_key}, "redis_tls_key", "is not the key of the certificate"),
        ({"store": f"rediss://:{password}@127.0.0.1:1/0"}, "store", "holds a password, and one is given apart"),
    ]
    for change, field, message in cases:
        options: dict[str, Any] = {"store": url, **certificates, **change}
        with pytest.raises(InvalidValueError) as info:
            Settings(scenario=SCENARIO, **options)
        assert info.value.field == field and message in str(info.value), (change, info.value)
        assert password not in str(info.value)


def test_mobility_serve_on_redis_over_tls_with_the_password_out_of_sight(
    redis_tls_server: RedisServer, tls_files: TLSFiles, data_dir: Path, tmp_path: Path
) -> None:
    """The real command line: the password from the environment (then a wrong one from a file), TLS
    to Redis with a client certificate; a booking lands in Redis; the password shows nowhere."""
    password = redis_tls_server.password
    assert password
    with redis_tls_server.client() as raw:
        raw.flushdb()
    common = [
        "--data-dir", str(data_dir), "--clock", "external", "--store", redis_tls_server.url,
        "--redis-tls-ca", str(tls_files.ca), "--redis-tls-cert", str(tls_files.client_cert),
        "--redis-tls-key", str(tls_files.client_key),
    ]  # fmt: skip
    env = {**os.environ, REDIS_PASSWORD_ENV: password}
    with serve_subprocess([*common, "--frontends", "1"], tmp_path, env=env) as served:
        assert f"store {redis_tls_server.url}" in served.first_line
        command_line = Path(f"/proc/{served.process.pid}/cmdline").read_bytes()
        assert password.encode() not in command_line
        with engine_channel(f"127.0.0.1:{served.port}") as channel:
            request = rider_pb2.QuoteRequest(
                request_id="over-tls", origin=common_pb2.Place(stop=3), destination=common_pb2.Place(stop=20),
                passengers=1, now_s=8 * 3600,
            )  # fmt: skip
            booking = rider_pb2.BookRideRequest(request=request, now_s=8 * 3600)
            ride = rider_pb2_grpc.RiderServiceStub(channel).BookRide(booking, timeout=TIMEOUT)
        assert ride.ride_id == "over-tls"
        with redis_tls_server.client() as raw:
            assert raw.hget("mobility:ride:over-tls", "status") == '"assigned"'
    assert password not in served.output()

    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    result = subprocess.run(
        [sys.executable, "-m", "mobility.cli", "serve", *common, "--frontends", "0", "--port", "0",
         "--redis-password-file", str(wrong)],
        cwd=SCENARIO.parents[1], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != REDIS_PASSWORD_ENV},
    )  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "refused the credentials" in lines[0] and "not-the-password" not in lines[0]
