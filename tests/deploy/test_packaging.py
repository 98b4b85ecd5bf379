"""Packaging metadata that setuptools accepts without deprecation warnings (issue 18, point 10)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def test_the_license_is_an_spdx_expression_with_a_setuptools_that_reads_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0", "a table (`{text = ...}`) is deprecated by setuptools"
    [setuptools] = [Requirement(r) for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools.specifier.contains("77") and not setuptools.specifier.contains("76.9"), (
        "SPDX license strings need setuptools >= 77 (PEP 639)"
    )
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", ()))
