"""The AWS provider for the contract suite: real boto3 against moto's server on 127.0.0.1 (tests/aws/world.py).

One moto world serves every test of a process (starting one per test would cost seconds each); each harness gets
a fresh provider object, and stock-outs are injected at our seam (`Stockouts` around the EC2 client) for that
harness only.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from luna_autoscaler.models.catalog import Offering
from pricing.catalog import load_catalog
from providers.aws.provider import AwsProvider
from tests.aws.clock import FakeClock
from tests.aws.faults import Stockouts
from tests.aws.world import REGION, AwsWorld, start_world, stop_world
from tests.providers.harness import Harness

_world: AwsWorld | None = None


def _shared_world() -> AwsWorld:
    global _world
    if _world is None:
        server, _world = start_world()
        atexit.register(stop_world, server, _world)
    return _world


@dataclass(frozen=True)
class AwsFaults:
    ec2: Stockouts

    def no_capacity(self, offering: Offering) -> None:
        self.ec2.exhausted.add((offering.name, offering.zone, offering.capacity_type.value))


@contextmanager
def open_harness(cluster_name: str) -> Iterator[Harness]:
    world = _shared_world()
    ec2 = Stockouts(world.client("ec2"), {subnet: zone for zone, subnet in world.subnets.items()})
    config = world.config()

    def build() -> AwsProvider:
        return AwsProvider(
            config=config,
            cluster_name=cluster_name,
            clients=world.clients(ec2=ec2),
            clock=FakeClock(),
            bundled=load_catalog("aws", REGION, spot_price_ratio_estimate=config.spot_price_ratio_estimate),
        )

    yield Harness(provider=build(), faults=AwsFaults(ec2), unknown_instance_id="i-0123456789abcdef0", reopen=build)
