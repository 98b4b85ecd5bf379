"""The GCP NodeProvider: GKE nodes launched through node pools, one pool per node configuration, priced live.

GKE keeps owning what makes a node join (bootstrap, drivers, labels, upgrades): every node we add is a member of
a GKE node pool (pools), created with no node on first demand and kept at size 0 when idle. A launch adds one
named instance to the pool's managed instance group with `createInstances` (raises the target size by one, names
the VM `<pool>-<launch id>`, replay-safe through its request id); `terminate` removes exactly that VM with
`deleteInstances`, which lowers the target size. Nothing waits on a long-running operation: a pool being created
holds its launches until a later call finds it RUNNING, and launch errors are read on later calls from the zone
operation and the managed instances' `lastAttempt.errors` (FAILED instances). A Node's `spec.providerID` is
`gce://<project>/<zone>/<instance name>`; the instance id is the VM name, known from the launch on.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import structlog
from google.api_core.exceptions import AlreadyExists, Conflict, NotFound
from google.cloud import compute_v1, container_v1

from luna_autoscaler.config import Config
from luna_autoscaler.errors import OfferingRef, Permanent, ProviderConfigurationError, ProviderError
from luna_autoscaler.models.catalog import Catalog, Offering
from luna_autoscaler.ports import (
    PROVISIONAL_PREFIX,
    TAG_LAUNCH_ID,
    Clock,
    Instance,
    InstanceState,
    InterruptionKind,
    InterruptionNotice,
    LaunchRequest,
    NodeConfiguration,
)
from pricing.gcp.live_catalog import LiveGcpCatalog
from pricing.price_age import PriceAge, PriceAgeCollector
from providers.gcp.classify import classified, classify
from providers.gcp.clients import NO_RETRY, GcpClients
from providers.gcp.config import GcpConfig
from providers.gcp.pools import (
    RECORD_KEY,
    PoolRecord,
    gpu_sharing,
    instance_name,
    launch_id_of,
    node_pool,
    pool_name,
    pool_tags,
)

log = structlog.get_logger(__name__)

_PROVIDER_ID = re.compile(r"^gce://(?P<project>[^/]+)/(?P<zone>[^/]+)/(?P<name>[^/]+)$")
_MIG_URL = re.compile(r"/zones/(?P<zone>[^/]+)/instanceGroup(?:Manager)?s/(?P<name>[^/]+)$")
_REQUEST_IDS = uuid.UUID("6b1d0c43-8f5e-4a57-9a53-8c4a2f1f0e5d")
_CREATING = frozenset({"CREATING", "CREATING_WITHOUT_RETRIES", "RECREATING", "VERIFYING"})
_LEAVING = frozenset({"DELETING", "ABANDONING"})
_POOL_READY = frozenset({"RUNNING", "RUNNING_WITH_ERROR"})
_POOL_BROKEN = frozenset({"ERROR", "STOPPING"})
PREEMPTED_OPERATION = "compute.instances.preempted"
PREEMPTION_NOTICE = timedelta(seconds=30)  # GCE stops a preempted VM 30 s after its notice
PREEMPTION_LOOKBACK = timedelta(minutes=10)


def request_id(*parts: str) -> str:
    """The same UUID for the same call: GCE and GKE drop a replayed request with an id they have seen."""
    return str(uuid.uuid5(_REQUEST_IDS, "/".join(parts)))


@dataclass(frozen=True, slots=True)
class Pool:
    """A node pool of ours, as the last `list_node_pools` showed it."""

    name: str
    status: str
    record: PoolRecord
    zone: str
    group: str  # its managed instance group's name ("" until GKE has made it)
    message: str
    conditions: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return self.status in _POOL_READY and bool(self.group)


@dataclass(frozen=True, slots=True)
class Waiting:
    """A launch held until its pool is RUNNING (then its instance is created)."""

    launch_id: str
    pool: str
    record: PoolRecord
    ref: OfferingRef
    price_usd_per_hour: float
    created_at: datetime


class GkeProvider:
    """See the module docstring. Built by `providers.gcp.create` (or by tests, with clients of their own)."""

    def __init__(
        self,
        *,
        config: Config,
        cluster_name: str,
        clients: GcpClients,
        clock: Clock,
        bundled: Catalog,
        metrics_registry: Any = None,
    ) -> None:
        gcp = GcpConfig.of(config)
        if not gcp.project:
            raise ProviderConfigurationError("gcp.project is required: the project of the GKE cluster (docs/gcp.md)")
        self._gcp = gcp
        self._cluster_name = cluster_name
        self._parent = f"projects/{gcp.project}/locations/{gcp.location}/clusters/{gcp.cluster_name or cluster_name}"
        self._clients = clients
        self._clock = clock
        self._prices = LiveGcpCatalog(
            bundled, billing_client=clients.billing, clock=clock, refresh_seconds=gcp.pricing_refresh_seconds
        )
        if metrics_registry is not None:
            metrics_registry.register(PriceAgeCollector(self._prices))
        self._lock = threading.RLock()
        self._pools: dict[str, Pool] = {}
        self._pool_operations: dict[str, str] = {}  # pool → the GKE operation creating it
        self._pool_failures: dict[str, ProviderError] = {}
        self._adopted: set[str] = set()  # pools whose creation operation was looked for after a restart
        self._waiting: dict[str, Waiting] = {}
        self._cancelled: set[str] = set()
        self._instance_operations: dict[str, tuple[str, str, OfferingRef]] = {}  # VM name → zone, operation
        self._instance_failures: dict[str, ProviderError] = {}
        self._preemptions_seen: set[str] = set()
        self._next_preemption_poll: datetime | None = None
        self._served: tuple[Catalog, Catalog] | None = None

    # --- NodeProvider ---------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return "gcp"

    @property
    def features(self) -> Mapping[str, str]:
        return MappingProxyType(
            {"multi-offering-launch": "a GKE node pool has one machine type and zone: the first offering is taken"}
        )

    def catalog(self) -> Catalog:
        """The live-priced catalog as this configuration buys it: only `gcp.zones`, and without GKE's time-sharing
        labels when GKE installs no GPU driver (`INSTALLATION_DISABLED`: the GPU operator's device plugin slices,
        and GKE labels nothing). Rebuilt only when the prices change."""
        priced = self._prices.catalog()
        cached = self._served
        if cached is not None and cached[0] is priced:
            return cached[1]
        zones = set(self._gcp.zones)
        offerings = tuple(o for o in priced if not zones or o.zone in zones)
        if self._gcp.gpu_driver_version == "INSTALLATION_DISABLED":
            offerings = tuple(replace(o, time_sharing=None) for o in offerings)
        served = replace(priced, offerings=offerings)
        self._served = (priced, served)
        return served

    def launch(self, request: LaunchRequest) -> Instance:
        if not request.offerings:
            raise Permanent(f"launch {request.launch_id}: no offering to launch")
        offering = request.offerings[0]
        if self._gcp.zones and offering.zone not in self._gcp.zones:
            raise Permanent(f"launch {request.launch_id}: zone {offering.zone} is not in gcp.zones", [offering.ref])
        configuration = request.configuration(offering)
        pool = pool_name(self._gcp.node_pool_prefix, configuration)
        with self._lock:
            waiting = self._waiting.get(request.launch_id)
            if waiting is not None:
                return self._instance(waiting.pool, request.launch_id, waiting.record, waiting.ref, waiting.created_at)
            sharing = gpu_sharing(configuration, offering.instance_type, self._gcp)
            tags = pool_tags({**request.tags, **request.ownership_tags})
            record = PoolRecord(self._cluster_name, configuration, tags, request.launch_id)
            current = self._list_pools().get(pool)
            if current is None:
                self._create_pool(pool, record, offering, sharing)
                current = self._list_pools().get(pool) if pool not in self._pool_operations else None
            if current is not None and current.status in _POOL_BROKEN:
                raise self._pool_error(current, offering.ref)
            if current is None or not current.ready:
                held = Waiting(
                    request.launch_id, pool, record, offering.ref, offering.price_usd_per_hour, self._clock()
                )
                self._waiting[request.launch_id] = held
                log.info("launch held until its node pool is running", launch_id=request.launch_id, pool=pool)
                return self._instance(pool, request.launch_id, record, offering.ref, held.created_at)
            self._create_instance(current, request.launch_id, offering.ref, raise_errors=True)
            return self._instance(
                pool, request.launch_id, current.record, offering.ref, self._clock(), offering=offering
            )

    def terminate(self, instance_id: str) -> None:
        with self._lock:
            if instance_id.startswith(PROVISIONAL_PREFIX):
                launch_id = instance_id.removeprefix(PROVISIONAL_PREFIX)
                name = self._name_of_launch(launch_id)
                if name is None:
                    return
                instance_id = name
            pools = self._pools if self._pool_of(instance_id) else self._list_pools()
            owner = self._pool_of(instance_id, pools)
            if owner is None:
                log.info("instance is not in a node pool of ours; nothing to do", instance_id=instance_id)
                return
            launch_id = launch_id_of(owner.name, instance_id)
            if self._waiting.pop(launch_id, None) is not None:
                self._cancelled.add(launch_id)
                log.info("held launch cancelled", launch_id=launch_id, pool=owner.name)
            self._instance_failures.pop(instance_id, None)
            self._instance_operations.pop(instance_id, None)
            if owner.group:
                self._delete_instance(owner, instance_id)

    def list_instances(self) -> Sequence[Instance]:
        with self._lock:
            self._poll_pool_operations()
            pools = self._list_pools()
            self._recover_first_launches(pools)
            if self._adopt_pool_operations(pools):
                self._poll_pool_operations()
                pools = self._list_pools()
            listed: list[Instance] = []
            for pool in pools.values():
                if pool.ready:
                    for held in [w for w in self._waiting.values() if w.pool == pool.name]:
                        self._release(pool, held)
                listed.extend(self._members(pool))
            seen = {i.launch_id for i in listed}
            for held in self._waiting.values():
                if held.launch_id not in seen:
                    listed.append(self._held_instance(held))
            return tuple(listed)

    def instance_id_of(self, provider_id: str) -> str | None:
        match = _PROVIDER_ID.match(provider_id)
        if match is None or match["project"] != self._gcp.project:
            return None
        return match["name"]

    def poll_interruptions(self) -> Sequence[InterruptionNotice]:
        now = self._clock()
        with self._lock:
            if self._next_preemption_poll is not None and now < self._next_preemption_poll:
                return ()
            self._next_preemption_poll = now + timedelta(seconds=self._gcp.preemption_poll_seconds)
            zones = sorted({p.zone for p in self._pools.values() if p.record.configuration.capacity_type == "spot"})
            notices: list[InterruptionNotice] = []
            for zone in zones:
                try:
                    notices.extend(self._preemptions(zone, now))
                except ProviderError as e:
                    log.warning("preemption poll failed; retrying at the next interval", zone=zone, error=str(e))
            return tuple(notices)

    # --- beyond the port ------------------------------------------------------------------------------------

    def price_ages(self) -> dict[str, PriceAge]:
        """How old the on-demand and spot prices in use are, and whether they are live (also a metric)."""
        return self._prices.price_ages()

    # --- node pools -----------------------------------------------------------------------------------------

    def _list_pools(self) -> dict[str, Pool]:
        with classified(f"container:ListNodePools {self._parent}"):
            answer = self._clients.container.list_node_pools(parent=self._parent, retry=NO_RETRY)
        pools: dict[str, Pool] = {}
        for raw in answer.node_pools:
            if not raw.name.startswith(self._gcp.node_pool_prefix) or RECORD_KEY not in raw.config.metadata:
                continue
            try:
                record = PoolRecord.from_json(raw.config.metadata[RECORD_KEY])
            except ValueError as e:
                log.warning("node pool with an unreadable record skipped", pool=raw.name, error=str(e))
                continue
            if record.cluster_name != self._cluster_name:
                continue
            group = next((m for url in raw.instance_group_urls if (m := _MIG_URL.search(url))), None)
            pools[raw.name] = Pool(
                name=raw.name,
                status=container_v1.NodePool.Status(raw.status).name,
                record=record,
                zone=group["zone"] if group else record.configuration.zone,
                group=group["name"] if group else "",
                message=raw.status_message,
                conditions=tuple(container_v1.StatusCondition.Code(c.code).name for c in raw.conditions),
            )
        self._pools = pools
        return pools

    def _create_pool(self, name: str, record: PoolRecord, offering: Offering, sharing: int) -> None:
        spec = node_pool(self._gcp, name, record, offering.instance_type, sharing)
        what = f"container:CreateNodePool {name}"
        try:
            with classified(what, [offering.ref]):
                try:
                    operation = self._clients.container.create_node_pool(
                        parent=self._parent, node_pool=spec, retry=NO_RETRY
                    )
                except (AlreadyExists, Conflict):
                    log.info("node pool already being created", pool=name)
                    return
        except ProviderError as e:
            self._pool_failures[name] = e
            raise
        self._pool_failures.pop(name, None)
        log.info("node pool creation submitted", pool=name, operation=operation.name, offering=str(offering.ref))
        if container_v1.Operation.Status(operation.status) is not container_v1.Operation.Status.DONE:
            self._pool_operations[name] = self._operation_path(operation.name)
        elif operation.error.message or operation.error.code:
            raise self._operation_error(name, operation, offering.ref)

    def _operation_path(self, operation: str) -> str:
        if operation.startswith("projects/"):
            return operation
        location = self._parent.split("/clusters/", 1)[0]
        return f"{location}/operations/{operation}"

    def _poll_pool_operations(self) -> None:
        """One look at every pool creation still running (never a wait); a failed one fails its held launches."""
        for pool, path in list(self._pool_operations.items()):
            with classified(f"container:GetOperation {path}"):
                operation = self._clients.container.get_operation(name=path, retry=NO_RETRY)
            if container_v1.Operation.Status(operation.status) is not container_v1.Operation.Status.DONE:
                continue
            del self._pool_operations[pool]
            held = next((w for w in self._waiting.values() if w.pool == pool), None)
            if operation.error.code or operation.error.message:
                ref = held.ref if held else OfferingRef("", "", "")
                self._pool_failures[pool] = self._operation_error(pool, operation, ref)
                log.warning("node pool creation failed", pool=pool, error=str(self._pool_failures[pool]))
            else:
                log.info("node pool created", pool=pool)

    def _adopt_pool_operations(self, pools: Mapping[str, Pool]) -> bool:
        """Pools still provisioning whose operation this process did not start (a restart): find it, to poll it."""
        orphans = {p.name for p in pools.values() if p.status == "PROVISIONING" and p.name not in self._pool_operations}
        orphans -= self._adopted
        if not orphans:
            return False
        location = self._parent.split("/clusters/", 1)[0]
        with classified(f"container:ListOperations {location}"):
            answer = self._clients.container.list_operations(parent=location, retry=NO_RETRY)
        for operation in answer.operations:
            pool = operation.target_link.rsplit("/nodePools/", 1)[-1] if "/nodePools/" in operation.target_link else ""
            running = container_v1.Operation.Status(operation.status) is not container_v1.Operation.Status.DONE
            if pool in orphans and running:
                self._pool_operations[pool] = self._operation_path(operation.name)
        self._adopted |= orphans
        return bool(orphans & set(self._pool_operations))

    def _operation_error(self, pool: str, operation: Any, ref: OfferingRef) -> ProviderError:
        codes = [container_v1.StatusCondition.Code(c.code).name for c in operation.nodepool_conditions]
        codes += [c.canonical_code.name for c in operation.nodepool_conditions if c.canonical_code]
        message = (
            operation.error.message
            or operation.status_message
            or "; ".join(c.message for c in operation.nodepool_conditions)
        )
        return classify(codes, message, what=f"container:CreateNodePool {pool}", offerings=[ref] if ref.zone else [])

    def _pool_error(self, pool: Pool, ref: OfferingRef) -> ProviderError:
        return classify(pool.conditions, pool.message or f"node pool is {pool.status}", what=pool.name, offerings=[ref])

    def _recover_first_launches(self, pools: Mapping[str, Pool]) -> None:
        """After a restart, the launch that created a pool still provisioning is held again (from its record)."""
        for pool in pools.values():
            first = pool.record.first_launch_id
            if not first or pool.ready or first in self._waiting or first in self._cancelled:
                continue
            if pool.status in _POOL_BROKEN:
                continue
            c = pool.record.configuration
            offering = self._priced(c.offering)
            price = offering.price_usd_per_hour if offering else 0.0
            self._waiting[first] = Waiting(first, pool.name, pool.record, c.offering, price, self._clock())
            log.info("held launch recovered from its node pool", launch_id=first, pool=pool.name)

    # --- instances ------------------------------------------------------------------------------------------

    def _release(self, pool: Pool, held: Waiting) -> None:
        """The pool is running: create the held launch's instance (a failure is listed FAILED, not raised)."""
        try:
            self._create_instance(pool, held.launch_id, held.ref, raise_errors=False)
        except ProviderError as e:
            self._instance_failures[instance_name(pool.name, held.launch_id)] = e
        del self._waiting[held.launch_id]

    def _create_instance(self, pool: Pool, launch_id: str, ref: OfferingRef, *, raise_errors: bool) -> None:
        name = instance_name(pool.name, launch_id)
        what = f"compute:InstanceGroupManagers.createInstances {pool.group} {name}"
        body = compute_v1.InstanceGroupManagersCreateInstancesRequest(
            instances=[compute_v1.PerInstanceConfig(name=name)]
        )
        with classified(what, [ref]):
            try:
                operation = self._clients.instance_groups.create_instances(
                    request=compute_v1.CreateInstancesInstanceGroupManagerRequest(
                        project=self._gcp.project,
                        zone=pool.zone,
                        instance_group_manager=pool.group,
                        instance_group_managers_create_instances_request_resource=body,
                        request_id=request_id(self._gcp.project, "create", name),
                    ),
                    retry=NO_RETRY,
                )
            except (AlreadyExists, Conflict):
                log.info("instance already created by an earlier call", instance=name)
                return
        log.info("instance creation submitted", launch_id=launch_id, instance=name, pool=pool.name, offering=str(ref))
        error = self._zone_operation_error(operation, what, ref)
        if error is None:
            if operation.status != compute_v1.Operation.Status.DONE:
                self._instance_operations[name] = (pool.zone, operation.name, ref)
            return
        if raise_errors:
            raise error
        self._instance_failures[name] = error

    @staticmethod
    def _zone_operation_error(operation: Any, what: str, ref: OfferingRef) -> ProviderError | None:
        if operation.status != compute_v1.Operation.Status.DONE or not operation.error.errors:
            return None
        errors = list(operation.error.errors)
        message = "; ".join(e.message for e in errors)
        return classify([e.code for e in errors], message, what=what, offerings=[ref])

    def _poll_instance_operation(self, name: str) -> None:
        zone, operation_name, ref = self._instance_operations[name]
        what = f"compute:ZoneOperations.get {operation_name}"
        with classified(what):
            operation = self._clients.zone_operations.get(
                project=self._gcp.project, zone=zone, operation=operation_name, retry=NO_RETRY
            )
        if operation.status != compute_v1.Operation.Status.DONE:
            return
        del self._instance_operations[name]
        error = self._zone_operation_error(operation, f"compute:InstanceGroupManagers.createInstances {name}", ref)
        if error is not None:
            self._instance_failures[name] = error

    def _members(self, pool: Pool) -> list[Instance]:
        """The pool's VMs (and the launches whose creation failed), as Instances."""
        out: list[Instance] = []
        names: set[str] = set()
        ref = pool.record.configuration.offering
        if pool.group:
            with classified(f"compute:InstanceGroupManagers.listManagedInstances {pool.group}"):
                managed = list(
                    self._clients.instance_groups.list_managed_instances(
                        project=self._gcp.project, zone=pool.zone, instance_group_manager=pool.group, retry=NO_RETRY
                    )
                )
            for mi in managed:
                name = mi.name or mi.instance.rsplit("/", 1)[-1]
                if mi.current_action in _LEAVING:
                    continue
                names.add(name)
                if name in self._instance_operations:
                    self._poll_instance_operation(name)
                state, failure = self._state_of(mi, name, ref)
                instance = self._instance(
                    pool.name, launch_id_of(pool.name, name), pool.record, ref, self._clock(), name=name
                )
                out.append(replace(instance, state=state, failure=failure))
        for name, failure in self._instance_failures.items():
            if name not in names and name.startswith(f"{pool.name}-"):
                instance = self._instance(pool.name, launch_id_of(pool.name, name), pool.record, ref, self._clock())
                out.append(replace(instance, state=InstanceState.FAILED, failure=failure))
        return out

    def _state_of(self, mi: Any, name: str, ref: OfferingRef) -> tuple[InstanceState, ProviderError | None]:
        known = self._instance_failures.get(name)
        if known is not None:
            return InstanceState.FAILED, known
        if mi.current_action in _CREATING:
            errors = list(mi.last_attempt.errors.errors)
            if errors:
                message = "; ".join(e.message for e in errors)
                what = f"compute:managed instance {name}"
                return InstanceState.FAILED, classify([e.code for e in errors], message, what=what, offerings=[ref])
            return InstanceState.PENDING, None
        if mi.instance_status == "RUNNING":
            return InstanceState.RUNNING, None
        return (
            InstanceState.PENDING if mi.instance_status in ("", "PROVISIONING", "STAGING") else InstanceState.RUNNING
        ), None

    def _held_instance(self, held: Waiting) -> Instance:
        instance = self._instance(held.pool, held.launch_id, held.record, held.ref, held.created_at)
        failure = self._pool_failures.get(held.pool)
        return replace(instance, state=InstanceState.FAILED, failure=failure) if failure is not None else instance

    def _delete_instance(self, pool: Pool, name: str) -> None:
        body = compute_v1.InstanceGroupManagersDeleteInstancesRequest(
            instances=[f"zones/{pool.zone}/instances/{name}"], skip_instances_on_validation_error=True
        )
        what = f"compute:InstanceGroupManagers.deleteInstances {pool.group} {name}"
        with classified(what):
            try:
                self._clients.instance_groups.delete_instances(
                    request=compute_v1.DeleteInstancesInstanceGroupManagerRequest(
                        project=self._gcp.project,
                        zone=pool.zone,
                        instance_group_manager=pool.group,
                        instance_group_managers_delete_instances_request_resource=body,
                        request_id=request_id(self._gcp.project, "delete", name),
                    ),
                    retry=NO_RETRY,
                )
            except NotFound:
                log.info("instance or its group already gone", instance=name, pool=pool.name)
                return
        log.info("instance deletion submitted", instance=name, pool=pool.name)

    def _instance(
        self,
        pool: str,
        launch_id: str,
        record: PoolRecord,
        ref: OfferingRef,
        created_at: datetime,
        *,
        offering: Offering | None = None,
        name: str = "",
    ) -> Instance:
        name = name or instance_name(pool, launch_id)
        priced = offering or self._priced(ref)
        tags = {**record.tags, TAG_LAUNCH_ID: launch_id} if launch_id else dict(record.tags)
        configuration: NodeConfiguration = record.configuration
        return Instance(
            instance_id=name,
            provider_id=f"gce://{self._gcp.project}/{configuration.zone}/{name}",
            instance_type=configuration.instance_type,
            zone=configuration.zone,
            capacity_type=configuration.capacity_type,
            launch_id=launch_id,
            state=InstanceState.PENDING,
            created_at=created_at,
            price_usd_per_hour=priced.price_usd_per_hour if priced else 0.0,
            tags=MappingProxyType(tags),
            configuration=configuration,
        )

    def _pool_of(self, name: str, pools: Mapping[str, Pool] | None = None) -> Pool | None:
        for pool in (pools if pools is not None else self._pools).values():
            if name.startswith(f"{pool.name}-"):
                return pool
        return None

    def _name_of_launch(self, launch_id: str) -> str | None:
        held = self._waiting.get(launch_id)
        if held is not None:
            return instance_name(held.pool, launch_id)
        return next((i.instance_id for i in self.list_instances() if i.launch_id == launch_id), None)

    def _priced(self, ref: OfferingRef) -> Offering | None:
        return self._prices.current.find(ref)

    # --- preemption -----------------------------------------------------------------------------------------

    def _preemptions(self, zone: str, now: datetime) -> list[InterruptionNotice]:
        """GCE's `compute.instances.preempted` operations in `zone` for VMs of our pools, each reported once."""
        with classified(f"compute:ZoneOperations.list {zone}"):
            operations = list(
                self._clients.zone_operations.list(
                    request=compute_v1.ListZoneOperationsRequest(
                        project=self._gcp.project,
                        zone=zone,
                        filter=f'operationType="{PREEMPTED_OPERATION}"',
                    ),
                    retry=NO_RETRY,
                )
            )
        notices = []
        for op in operations:
            name = op.target_link.rsplit("/", 1)[-1]
            key = str(op.id or op.name)
            if key in self._preemptions_seen or self._pool_of(name) is None:
                continue
            started = _timestamp(op.insert_time) or now
            if started < now - PREEMPTION_LOOKBACK:
                continue
            self._preemptions_seen.add(key)
            log.info("spot node preempted", instance=name, zone=zone, at=started.isoformat())
            notices.append(
                InterruptionNotice(name, InterruptionKind.SPOT_INTERRUPTION, now, started + PREEMPTION_NOTICE)
            )
        return notices


def _timestamp(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
