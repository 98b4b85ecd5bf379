"""An in-memory cloud that behaves like a real one where the reconcile loop can tell the difference.

Tests, simulations and `--dry-run`-style demos need a NodeProvider that prices like a real cloud (it sells the
offerings of a real Catalog), keeps the port's promises (idempotent launch, terminate of the unknown is success,
list shows only what this cluster owns) and can be made to fail the way clouds fail: a queued classified error for
the next launch, or an offering that has run out of capacity. Machines join the cluster after a delay, which the
simulated cluster collects with `due_to_join(now)`; interruptions are queued with `interrupt`. Every port call is
recorded in `calls` so tests assert on behaviour, not on mocks. Time comes only from the injected clock.

Given a `NodeRegistrar` (`fake.registerNodes`, for `run --provider fake` against a local API server), the fake
also plays its machines' kubelets: an instance whose join delay has passed is running and its Node is registered
(labels and taints of its launch from the start), and terminating it deletes the Node, as a cloud's node
lifecycle controller would. A registration the API server refused is tried again at the next call.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from luna_autoscaler.errors import InsufficientCapacity, LunaError, OfferingRef, Permanent, ProviderError
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.ports import (
    PROVISIONAL_PREFIX,
    TAG_CLUSTER,
    Clock,
    Instance,
    InstanceState,
    InterruptionKind,
    InterruptionNotice,
    LaunchRequest,
    NodeRegistrar,
)
from providers.fake.state import CloudState, StateFile

PROVIDER_ID_PREFIX = "fake://"
# How long a spot instance lives after its interruption notice when no deadline is given (AWS: two minutes).
SPOT_NOTICE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class ProviderCall:
    """One call of a port method, with its arguments (LaunchRequest, instance id, provider id...)."""

    method: str
    args: tuple[object, ...] = ()


class FakeProvider:
    """A NodeProvider over a Catalog, in memory or (with `state_file`) shared between processes. Thread-safe.

    `pool_shaped` makes it behave like a pool cloud (GKE, AKS, OKE node pools): `launch` only submits, the
    instance is provisional (no provider id) until `naming_delay_seconds` have passed, and a launch queued with
    `fail_in_cloud` is accepted and then listed FAILED, as a stockout found in a resize operation is.
    """

    def __init__(
        self,
        catalog: Catalog,
        clock: Clock,
        *,
        cluster_name: str = "test",
        join_delay_seconds: float = 60.0,
        features: Mapping[str, str] | None = None,
        state_file: Path | None = None,
        pool_shaped: bool = False,
        naming_delay_seconds: float = 30.0,
        node_registrar: NodeRegistrar | None = None,
    ) -> None:
        self._catalog = catalog
        self._offerings: dict[OfferingRef, Offering] = {o.ref: o for o in catalog}
        self._clock = clock
        self.cluster_name = cluster_name
        self.join_delay = timedelta(seconds=join_delay_seconds)
        self.pool_shaped = pool_shaped
        self.naming_delay = timedelta(seconds=naming_delay_seconds)
        self._features: Mapping[str, str] = MappingProxyType(dict(features or {}))
        self.calls: list[ProviderCall] = []
        self._memory = CloudState()
        self._file = StateFile(state_file) if state_file is not None else None
        self._joined: set[str] = set()
        self._failures: deque[ProviderError] = deque()
        self._cloud_failures: deque[ProviderError] = deque()
        self._exhausted: set[OfferingRef] = set()
        self._notices: list[InterruptionNotice] = []
        self._lock = threading.RLock()
        self._registrar = node_registrar
        self._unregistered: dict[str, Instance] = {}  # terminated instances whose Node is still to be deleted

    @contextmanager
    def _cloud(self) -> Iterator[CloudState]:
        """The cloud's state for one call, with submitted launches that are due named (or failed) first."""
        with self._lock:
            if self._file is None:
                self._name_due(self._memory)
                self._register_due(self._memory)
                yield self._memory
                return
            with self._file.locked() as state:
                self._name_due(state)
                self._register_due(state)
                yield state

    def _name_due(self, state: CloudState) -> None:
        if not self.pool_shaped:
            return  # every launch was named at once: a scan per call made 10,000 launches quadratic
        now = self._clock()
        for handle, instance in list(state.instances.items()):
            if instance.identified or instance.state in (InstanceState.FAILED, InstanceState.TERMINATED):
                continue
            if instance.created_at + self.naming_delay > now:
                continue
            if instance.failure is not None:
                state.instances[handle] = replace(instance, state=InstanceState.FAILED)
                continue
            state.serial += 1
            instance_id = f"fake-{state.serial:06d}"
            del state.instances[handle]
            state.instances[instance_id] = replace(
                instance, instance_id=instance_id, provider_id=f"{PROVIDER_ID_PREFIX}{instance_id}"
            )
            state.by_launch_id[instance.launch_id] = instance_id

    def _register_due(self, state: CloudState) -> None:
        """With a registrar: machines whose join delay has passed are running, with their Node registered; Nodes
        of terminated machines are deleted. What the API server refused now is tried again at the next call."""
        if self._registrar is None:
            return
        now = self._clock()
        for instance_id, instance in list(state.instances.items()):
            if instance.state != InstanceState.PENDING or not instance.identified:
                continue
            if instance.created_at + self.join_delay > now:
                continue
            try:
                self._registrar.register(instance, self._offering_of(instance))
            except LunaError:
                continue  # a kubelet retries its registration; so do we, at the next call
            state.instances[instance_id] = replace(instance, state=InstanceState.RUNNING)
        for instance_id, instance in list(self._unregistered.items()):
            try:
                self._registrar.deregister(instance)
            except LunaError:
                continue
            del self._unregistered[instance_id]

    def _offering_of(self, instance: Instance) -> Offering:
        """The offering an instance was launched on; an estimated spot offering is its on-demand one, as spot."""
        known = self._offerings.get(instance.offering)
        if known is not None:
            return known
        on_demand = self._offerings[OfferingRef(instance.instance_type, instance.zone, CapacityType.ON_DEMAND.value)]
        return replace(on_demand, capacity_type=instance.capacity_type, price_usd_per_hour=instance.price_usd_per_hour)

    # --- the port ---------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return "fake"

    @property
    def features(self) -> Mapping[str, str]:
        return self._features

    def catalog(self) -> Catalog:
        with self._lock:
            self.calls.append(ProviderCall("catalog"))
            return self._catalog

    def launch(self, request: LaunchRequest) -> Instance:
        """Take the first offering (like a provider without multi-offering fleets); idempotent on launch_id,
        which wins over queued failures as a cloud's client token does."""
        with self._cloud() as state:
            self.calls.append(ProviderCall("launch", (request,)))
            known = state.by_launch_id.get(request.launch_id)
            if known is not None and known in state.instances:
                return state.instances[known]
            if self._failures:
                raise self._failures.popleft()
            if not request.offerings:
                raise Permanent(f"launch {request.launch_id}: no offerings to choose from")
            wanted = request.offerings[0]
            offering = self._offerings.get(wanted.ref) or self._spot_of_sold_type(wanted)
            if offering is None:
                raise Permanent(f"{wanted.ref} is not sold by this provider", [wanted.ref])
            if offering.ref in self._exhausted:
                raise InsufficientCapacity(
                    f"insufficient capacity for {offering.ref}",
                    [offering.ref],
                    spot_unavailable=offering.capacity_type == CapacityType.SPOT,
                )
            if self.pool_shaped:
                instance = Instance.submitted(request, offering, created_at=self._clock())
                if self._cloud_failures:
                    instance = replace(instance, failure=self._cloud_failures.popleft())
            else:
                state.serial += 1
                instance_id = f"fake-{state.serial:06d}"
                instance = Instance.launched(
                    request,
                    offering,
                    instance_id=instance_id,
                    provider_id=f"{PROVIDER_ID_PREFIX}{instance_id}",
                    created_at=self._clock(),
                    tags={**request.tags, **request.ownership_tags},
                )
            state.instances[instance.instance_id] = instance
            state.by_launch_id[request.launch_id] = instance.instance_id
            return instance

    def _spot_of_sold_type(self, wanted: Offering) -> Offering | None:
        """A spot offering the planner estimated (no spot price observed) for a type and zone sold on-demand: spot
        is sold wherever on-demand is, as on the real clouds, at the price the planner estimated."""
        if wanted.capacity_type is not CapacityType.SPOT or not wanted.price_estimated:
            return None
        return (
            wanted if OfferingRef(wanted.name, wanted.zone, CapacityType.ON_DEMAND.value) in self._offerings else None
        )

    def terminate(self, instance_id: str) -> None:
        """Terminate a machine, or cancel a submitted launch by its provisional handle (a pool's target size
        comes down either way: the machine is simply gone from the list)."""
        with self._cloud() as state:
            self.calls.append(ProviderCall("terminate", (instance_id,)))
            if instance_id.startswith(PROVISIONAL_PREFIX):
                instance_id = state.by_launch_id.get(instance_id.removeprefix(PROVISIONAL_PREFIX), instance_id)
            instance = state.instances.get(instance_id)
            if instance is not None:
                state.instances[instance_id] = replace(instance, state=InstanceState.TERMINATED)
                if self._registrar is not None and instance.state == InstanceState.RUNNING:
                    self._unregistered[instance_id] = instance
                    self._register_due(state)

    def list_instances(self) -> Sequence[Instance]:
        with self._cloud() as state:
            self.calls.append(ProviderCall("list_instances"))
            return tuple(
                i
                for i in state.instances.values()
                if i.state != InstanceState.TERMINATED and i.tags.get(TAG_CLUSTER) == self.cluster_name
            )

    def instance_id_of(self, provider_id: str) -> str | None:
        with self._lock:
            self.calls.append(ProviderCall("instance_id_of", (provider_id,)))
        instance_id = provider_id.removeprefix(PROVIDER_ID_PREFIX)
        return instance_id if provider_id.startswith(PROVIDER_ID_PREFIX) and instance_id else None

    def poll_interruptions(self) -> Sequence[InterruptionNotice]:
        with self._lock:
            self.calls.append(ProviderCall("poll_interruptions"))
            notices, self._notices = tuple(self._notices), []
            return notices

    # --- what a test or a simulation drives -------------------------------------------------------------

    def fail_next_launch(self, error: ProviderError) -> None:
        """Queue a classified error; each launch (that is not a replay of a known launch_id) raises the next one."""
        with self._lock:
            self._failures.append(error)

    def fail_in_cloud(self, error: ProviderError) -> None:
        """Queue an error the cloud finds only after accepting a launch (pool-shaped only): the next submitted
        launch is listed FAILED with it once its naming delay has passed."""
        with self._lock:
            self._cloud_failures.append(error)

    def exhaust(self, ref: OfferingRef) -> None:
        """From now on, launches whose first offering is `ref` fail with InsufficientCapacity naming it."""
        with self._lock:
            self._exhausted.add(ref)

    def replenish(self, ref: OfferingRef) -> None:
        """Capacity for `ref` is back."""
        with self._lock:
            self._exhausted.discard(ref)

    def interrupt(
        self,
        instance_id: str,
        kind: InterruptionKind = InterruptionKind.SPOT_INTERRUPTION,
        deadline: datetime | None = None,
    ) -> InterruptionNotice:
        """Queue an interruption notice for a live instance (spot notices default to a two-minute deadline)."""
        with self._cloud() as state:
            instance = state.instances.get(instance_id)
            if instance is None or instance.state == InstanceState.TERMINATED:
                raise LookupError(f"no live fake instance {instance_id!r} to interrupt")
            now = self._clock()
            if deadline is None and kind == InterruptionKind.SPOT_INTERRUPTION:
                deadline = now + SPOT_NOTICE
            notice = InterruptionNotice(instance_id, kind, now, deadline)
            self._notices.append(notice)
            return notice

    def due_to_join(self, now: datetime) -> list[Instance]:
        """Live instances whose join delay has passed by `now` and were not returned before, now RUNNING,
        oldest first: the simulated cluster registers a Node for each."""
        with self._cloud() as state:
            due = []
            for instance_id, instance in state.instances.items():
                if instance_id in self._joined or instance.state != InstanceState.PENDING or not instance.identified:
                    continue
                if instance.created_at + self.join_delay <= now:
                    running = replace(instance, state=InstanceState.RUNNING)
                    state.instances[instance_id] = running
                    self._joined.add(instance_id)
                    due.append(running)
            return sorted(due, key=lambda i: (i.created_at, i.instance_id))
