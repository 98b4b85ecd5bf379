"""The provider contract suite (test_contract.py) runs once for every harness named in HARNESSES.

Adding a provider to the suite is one line: write tests/providers/harness_<name>.py (see harness.py for what it
must expose) and append "<name>" below, e.g. `HARNESSES = ["fake", "pool_fake", "aws", "oci"]`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from luna_autoscaler.models.catalog import Catalog
from pricing.catalog import load_catalog
from tests.providers.harness import Harness
from tests.providers.harness_fake import ManualClock

HARNESSES = ["fake", "pool_fake", "aws", "gcp", "azure", "oci"]

CLUSTER = "contract-suite"


@pytest.fixture(params=HARNESSES)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    module = importlib.import_module(f"tests.providers.harness_{request.param}")
    with module.open_harness(CLUSTER) as opened:
        yield opened


@pytest.fixture
def clock() -> ManualClock:
    """The fake provider's tests' clock (test_fake.py, test_fake_nodes.py)."""
    return ManualClock()


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog("aws", "us-east-1")
