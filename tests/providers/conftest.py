"""The provider contract suite (test_contract.py) runs once for every harness named in HARNESSES.

Adding a provider to the suite is one line: write tests/providers/harness_<name>.py (see harness.py for what it
must expose) and append "<name>" below, e.g. `HARNESSES = ["fake", "pool_fake", "aws"]`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from tests.providers.harness import Harness

HARNESSES = ["fake", "pool_fake", "aws"]

CLUSTER = "contract-suite"


@pytest.fixture(params=HARNESSES)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    module = importlib.import_module(f"tests.providers.harness_{request.param}")
    with module.open_harness(CLUSTER) as opened:
        yield opened
