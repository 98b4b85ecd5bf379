"""Fixtures every test package may use. The package itself is installed (`pip install -e .`, as CI does), so the
product's own providers (`fake`, `aws`) resolve by entry point without help; `install_provider` adds test-only ones."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from luna_autoscaler.ports import PROVIDER_ENTRY_POINT_GROUP

InstallProvider = Callable[[str, str], Path]


@pytest.fixture
def install_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InstallProvider:
    """`install_provider(name, "module:function")` declares a provider plugin as an installed package would: an
    entry point in a dist-info directory put first on sys.path, so it wins over an installed provider of the same
    name. Returns the directory holding the dist-info, for a subprocess's PYTHONPATH."""
    site = tmp_path / "plugin-site"
    info = site / "luna_autoscaler_test_plugins-0.dist-info"
    declared: dict[str, str] = {}

    def install(name: str, target: str) -> Path:
        declared[name] = target
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: luna-autoscaler-test-plugins\nVersion: 0\n")
        lines = [f"[{PROVIDER_ENTRY_POINT_GROUP}]", *(f"{n} = {t}" for n, t in declared.items())]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        if str(site) not in sys.path:
            monkeypatch.syspath_prepend(str(site))
        return site

    return install
