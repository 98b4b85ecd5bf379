"""The fault suite's one seam to the cloud: everything it asks of or does to the provider goes through `Cloud`.

Today it drives the in-memory fake provider (`providers.fake`); when the provider port changes, or to run the
suite over another provider (moto-backed AWS, say), only this module changes.
"""

from __future__ import annotations

import random

from luna_autoscaler.errors import InsufficientCapacity, OfferingRef, Transient
from luna_autoscaler.models.catalog import Catalog
from luna_autoscaler.ports import InstanceState
from providers.fake import FakeProvider


class Cloud:
    def __init__(self, provider: FakeProvider, catalog: Catalog) -> None:
        self.provider = provider
        self._refs = sorted({o.ref for o in catalog.offerings}, key=str)
        self.interrupted: set[str] = set()
        self._exhausted: set[OfferingRef] = set()

    def live(self) -> dict[str, str]:
        """Instance id → provider id of every instance not terminated."""
        return {
            i.instance_id: i.provider_id for i in self.provider.list_instances() if i.state != InstanceState.TERMINATED
        }

    # --- faults -----------------------------------------------------------------------------------------------

    def throttle(self) -> str:
        self.provider.fail_next_launch(Transient("RequestLimitExceeded (injected)", retry_after_seconds=5.0))
        return "cloud throttling"

    def insufficient_capacity_once(self, rng: random.Random) -> str:
        ref = rng.choice(self._refs)
        self.provider.fail_next_launch(InsufficientCapacity("InsufficientInstanceCapacity (injected)", [ref]))
        return f"ICE on next launch ({ref})"

    def exhaust(self, rng: random.Random) -> str:
        ref = rng.choice(self._refs)
        self.provider.exhaust(ref)
        self._exhausted.add(ref)
        return f"offering exhausted ({ref})"

    def replenish_all(self) -> None:
        for ref in self._exhausted:
            self.provider.replenish(ref)
        self._exhausted.clear()

    def interrupt(self, which: float) -> bool:
        """Interrupt the live instance `which` (in [0, 1)) points at, drawn whether any is live (so the fault stream
        never depends on what the loop launched); False when none is."""
        candidates = sorted(set(self.live()) - self.interrupted)
        if not candidates:
            return False
        instance_id = candidates[int(which * len(candidates))]
        self.provider.interrupt(instance_id)
        self.interrupted.add(instance_id)
        return True
