"""Fixtures of the reconcile loop's component tests: the fake API server and worlds built on it (world.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.kubeapi import FakeApiServer
from tests.reconcile.world import World


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer() as s:
        yield s


@pytest.fixture
def make_world(server: FakeApiServer) -> Iterator[Callable[..., World]]:
    """`make_world(config={ConfigMap data})`: one world per test (the ConfigMap is created once)."""
    worlds: list[World] = []

    def make(config: Mapping[str, str] | None = None, **kw: Any) -> World:
        world = World(server, config or {}, **kw)
        worlds.append(world)
        return world

    yield make
    for w in worlds:
        w.close()
