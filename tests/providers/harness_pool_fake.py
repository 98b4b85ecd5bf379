"""The fake provider shaped like a pool cloud (GKE, AKS, OKE): launches are accepted, named later, and may fail
after they were accepted. The contract suite runs against it so that the port's pool-shaped promises are checked
before any real pool cloud exists behind it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.providers.harness import Harness
from tests.providers.harness_fake import fake_cloud


@contextmanager
def open_harness(cluster_name: str) -> Iterator[Harness]:
    with fake_cloud(cluster_name, pool_shaped=True) as harness:
        yield harness
