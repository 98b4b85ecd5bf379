from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from luna_autoscaler.ports import PROVIDER_ENTRY_POINT_GROUP
from tests.kubeapi import FakeApiServer
from tests.reconcile.world import World

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer() as s:
        yield s


@pytest.fixture
def make_world(server: FakeApiServer) -> Iterator[Callable[..., World]]:
    """`make_world(config={ConfigMap data})`: one world per test (the ConfigMap is created once)."""
    worlds: list[World] = []

    def make(config: Mapping[str, str] | None = None, **kw: float) -> World:
        world = World(server, config or {}, **kw)
        worlds.append(world)
        return world

    yield make
    for w in worlds:
        w.close()


@pytest.fixture
def installed_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The provider entry points of pyproject.toml, discoverable by importlib.metadata from a source checkout
    (as `pip install -e .` would make them): a dist-info directory on sys.path. Returns that directory's parent,
    for subprocesses' PYTHONPATH."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    providers = project["project"]["entry-points"][PROVIDER_ENTRY_POINT_GROUP]
    site = tmp_path / "site"
    dist = site / "luna_autoscaler_checkout-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: luna-autoscaler-checkout\nVersion: 0\n")
    lines = [f"[{PROVIDER_ENTRY_POINT_GROUP}]", *(f"{name} = {target}" for name, target in providers.items())]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(site))
    return site
