"""Fixtures of the simulator tests: the real Redis server of the engine tests, for the remote runs."""

from tests.engine.conftest import redis_server

__all__ = ["redis_server"]
