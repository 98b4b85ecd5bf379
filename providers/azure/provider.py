"""The AKS NodeProvider: one agent pool per node configuration, scaled by count, nodes removed by name.

docs/design/aks-agent-pools.md says why. Every call is short: `launch` records the launch in the pool's tags with
one PUT (count + 1) and returns the launch PENDING and unnamed; the operation is advanced one status check per
later call (providers.azure.operations) and its outcome read from `list_instances()`, which names each launch's
machine once the pool has it, or reports it FAILED with the classified error (providers.azure.classify).

One operation runs on a pool at a time (AKS refuses a second one): what arrives while one runs is queued here and
sent as one PUT when it ends (ten launches of one configuration in a cycle become one scale by ten). A queued
launch is in memory only until that PUT, a matter of minutes; a restart in between drops it, and the loop plans
its pods again. `terminate` deletes the named machine (`deleteMachines`, which also lowers the count); for a
launch that has no machine yet it lowers the count and drops the launch's tag.

Machines are matched to launches in the order both were made (a pool's machines are interchangeable: one
configuration); a machine that vanishes without our asking was evicted (spot) and is reported by
`poll_interruptions()`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

import structlog
from azure.core.exceptions import AzureError, ResourceNotFoundError

from luna_autoscaler.config import Config
from luna_autoscaler.errors import OfferingRef, Permanent, ProviderConfigurationError, ProviderError, Transient
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.ports import (
    PROVISIONAL_PREFIX,
    TAG_CLUSTER,
    TAG_GANG,
    TAG_LAUNCH_ID,
    TAG_OWNER,
    Clock,
    Instance,
    InstanceState,
    InterruptionKind,
    InterruptionNotice,
    LaunchRequest,
    NodeConfiguration,
)
from pricing.azure.live_catalog import LiveAzureCatalog, PriceAgeCollector
from providers.azure.classify import AzureFault, classify, from_http_error
from providers.azure.clients import AzureClients
from providers.azure.config import AzureConfig
from providers.azure.operations import FAILED, LOST, SUCCEEDED, PoolOperation, start
from providers.azure.pools import (
    MAX_LAUNCHES_PER_POOL,
    POOL_PREFIX,
    PoolSettings,
    PoolView,
    azure_tag,
    launch_tag,
    ownership_tags,
    pool_body,
    pool_name,
    read_pool,
    zone_label,
)

log = structlog.get_logger(__name__)

_PROVIDER_ID = re.compile(
    r"^azure:///subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/virtualMachineScaleSets/"
    r"(?P<vmss>aks-(?P<pool>[a-z][a-z0-9]{0,11})-\d+-vmss)/virtualMachines/(?P<index>\d+)$",
    re.IGNORECASE,
)
_MACHINE = re.compile(r"^aks-(?P<pool>[a-z][a-z0-9]{0,11})-\d+-vmss[0-9a-z]{6}$")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_RESOURCE_GROUP = re.compile(r"(/resourceGroups/)([^/]+)", re.IGNORECASE)


def _base36(n: int) -> str:
    out = ""
    while True:
        n, digit = divmod(n, 36)
        out = _BASE36[digit] + out
        if n == 0:
            return out


def provider_id(resource_id: str) -> str:
    """A Node's spec.providerID for a scale set VM: `azure://` + its resource id, the resource group in lower
    case as the Azure cloud provider writes it."""
    return "azure://" + _RESOURCE_GROUP.sub(lambda m: m[1] + m[2].lower(), resource_id)


def pool_of(machine: str) -> str | None:
    m = _MACHINE.match(machine)
    return m["pool"] if m else None


@dataclass
class _PoolWork:
    """What this process still has to send to one pool, and the operation it is waiting on."""

    queued: dict[str, tuple[LaunchRequest, Offering, datetime]] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)  # launches to drop (count - 1 when they have no machine)
    dropped: set[str] = field(default_factory=set)  # launches a PUT in flight drops (still in the pool as read)
    deleting: set[str] = field(default_factory=set)  # machines we asked to delete (or will)
    to_delete: set[str] = field(default_factory=set)  # of which not yet sent
    operation: PoolOperation | None = None

    @property
    def gone(self) -> set[str]:
        """Launches no longer ours to list: cancelled, or dropped by a PUT in flight."""
        return self.cancelled | self.dropped

    @property
    def pending(self) -> bool:
        return bool(self.queued or self.cancelled or self.to_delete)


class AzureProvider:
    """See the module docstring. Built by `providers.azure.create` (or by tests, with clients of their own)."""

    def __init__(
        self,
        *,
        config: Config,
        cluster_name: str,
        clients: AzureClients,
        clock: Clock,
        prices: LiveAzureCatalog,
        metrics_registry: Any = None,
    ) -> None:
        azure = AzureConfig.of(config)
        for key, value in (("subscriptionId", azure.subscription_id), ("resourceGroup", azure.resource_group)):
            if not value:
                raise ProviderConfigurationError(f"azure.{key} is required (docs/azure.md)")
        self._azure = azure
        self._cluster_name = cluster_name
        self._aks_name = azure.cluster_name or cluster_name
        self._clients = clients
        self._clock = clock
        self._prices = prices
        if metrics_registry is not None:
            metrics_registry.register(PriceAgeCollector(prices))
        self._settings = PoolSettings(
            region=azure.region,
            os_disk_gib=azure.os_disk_gib,
            os_sku=azure.os_sku,
            vnet_subnet_id=azure.vnet_subnet_id,
            max_pods=azure.max_pods,
            skip_gpu_driver_install=azure.skip_gpu_driver_install,
        )
        self._pools: dict[str, PoolView] = {}
        self._work: dict[str, _PoolWork] = {}
        self._failed: dict[str, ProviderError] = {}
        self._assigned: dict[str, str] = {}  # launch id → machine name
        self._machines: dict[str, dict[str, str]] = {}  # pool → machine name → resource id
        self._notices: list[InterruptionNotice] = []
        self._zoned: tuple[Catalog, Catalog] | None = None
        self._index: tuple[Catalog, dict[OfferingRef, Offering]] | None = None

    # --- NodeProvider ---------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return "azure"

    @property
    def features(self) -> Mapping[str, str]:
        return MappingProxyType(
            {
                "interruption-notice": "a spot eviction is seen when AKS removes the machine, not ahead of it "
                "(Scheduled Events reach only the VM itself; docs/azure.md)",
            }
        )

    def catalog(self) -> Catalog:
        priced = self._prices.catalog()
        if self._zoned is not None and self._zoned[0] is priced:
            return self._zoned[1]
        zoned = self._in_zones(priced)
        self._zoned = (priced, zoned)
        return zoned

    def launch(self, request: LaunchRequest) -> Instance:
        if not request.offerings:
            raise Permanent(f"launch {request.launch_id}: no offering to launch")
        offering = request.offerings[0]
        configuration = request.configuration(offering)
        name = pool_name(configuration)
        known = self._find(request.launch_id)
        if known is not None:
            log.info("launch already done", launch_id=request.launch_id, instance_id=known.instance_id)
            return known
        pool = self._read_pool(name, offering)
        if pool is not None and request.launch_id in pool.launches:
            self._pools[name] = pool
            return self._instance_of(pool, request.launch_id)
        work = self._work.setdefault(name, _PoolWork())
        in_pool = len(pool.launches) if pool else 0
        if in_pool + len(work.queued) >= MAX_LAUNCHES_PER_POOL:
            raise Transient(
                f"launch {request.launch_id}: agent pool {name} already holds {MAX_LAUNCHES_PER_POOL} launches",
                300.0,
            )
        now = self._clock()
        work.queued[request.launch_id] = (request, offering, now)
        if pool is None:
            if work.operation is None:
                self._create_pool(name, configuration, offering, request)
        else:
            self._pools[name] = pool
            self._advance(name, work)
        return Instance.submitted(request, offering, created_at=now)

    def terminate(self, instance_id: str) -> None:
        if instance_id.startswith(PROVISIONAL_PREFIX):
            self._cancel(instance_id.removeprefix(PROVISIONAL_PREFIX))
            return
        name = pool_of(instance_id)
        if name is None or not name.startswith(POOL_PREFIX):
            log.warning("not a machine of ours; left alone", instance_id=instance_id)
            return
        work = self._work.setdefault(name, _PoolWork())
        if instance_id in work.deleting:
            return
        work.deleting.add(instance_id)
        work.to_delete.add(instance_id)
        for launch_id, machine in list(self._assigned.items()):
            if machine == instance_id:
                work.cancelled.add(launch_id)
        self._advance(name, work)
        log.info("machine deletion requested", instance_id=instance_id, pool=name)

    def list_instances(self) -> Sequence[Instance]:
        self._sync()
        out: list[Instance] = []
        for name, pool in sorted(self._pools.items()):
            work = self._work.get(name, _PoolWork())
            for launch_id in sorted(pool.launches, key=lambda i: (pool.launches[i], i)):
                if launch_id not in work.gone:
                    out.append(self._instance_of(pool, launch_id))
            out.extend(self._queued_instances(work, skip=set(pool.launches)))
        for name, work in sorted(self._work.items()):
            if name not in self._pools:
                out.extend(self._queued_instances(work, skip=set()))
        return out

    def instance_id_of(self, provider_id: str) -> str | None:
        m = _PROVIDER_ID.match(provider_id)
        if m is None:
            return None
        return f"{m['vmss'].lower()}{_base36(int(m['index'])):0>6}"

    def poll_interruptions(self) -> Sequence[InterruptionNotice]:
        notices, self._notices = tuple(self._notices), []
        return notices

    # --- beyond the port ------------------------------------------------------------------------------------

    def price_ages(self) -> Mapping[str, Any]:
        return self._prices.price_ages()

    # --- reading the pools ----------------------------------------------------------------------------------

    @property
    def _rg(self) -> str:
        return self._azure.resource_group

    def _ours(self, pool: PoolView) -> bool:
        return pool.tags.get(TAG_CLUSTER) == self._cluster_name and pool.tags.get(TAG_OWNER) == "luna-autoscaler"

    def _read_pool(self, name: str, offering: Offering | None = None) -> PoolView | None:
        try:
            raw = self._clients.containers.agent_pools.get(self._rg, self._aks_name, name)
        except ResourceNotFoundError:
            return None
        except AzureError as e:
            raise self._error(e, f"agentPools/get {name}", offering) from e
        pool = read_pool(raw, self._azure.region, self._prices.current.instance_types)
        return pool if self._ours(pool) else None

    def _sync(self) -> None:
        """Read every pool of ours and its machines, advance operations, match machines to launches."""
        try:
            listed = list(self._clients.containers.agent_pools.list(self._rg, self._aks_name))
        except AzureError as e:
            raise self._error(e, "agentPools/list", None) from e
        types = self._prices.current.instance_types
        pools = {p.name: p for p in (read_pool(raw, self._azure.region, types) for raw in listed) if self._ours(p)}
        self._pools = pools
        for name in sorted(self._pools):
            self._read_machines(name)
        for name, work in list(self._work.items()):
            self._advance(name, work)

    def _read_machines(self, name: str) -> None:
        pool = self._pools[name]
        try:
            machines = {
                str(m.name): str(getattr(m.properties, "resource_id", "") or "")
                for m in self._clients.containers.machines.list(self._rg, self._aks_name, name)
            }
        except ResourceNotFoundError:
            machines = {}
        except AzureError as e:
            raise self._error(e, f"agentPools/{name}/machines", None) from e
        previous = self._machines.get(name, {})
        self._machines[name] = machines
        work = self._work.setdefault(name, _PoolWork())
        work.deleting &= set(machines)
        work.dropped &= set(pool.launches)
        for launch_id, machine in list(self._assigned.items()):
            if pool_of(machine) != name or machine in machines:
                continue
            del self._assigned[launch_id]
            work.cancelled.add(launch_id)
            if machine in previous and pool.configuration is not None and launch_id in pool.launches:
                self._vanished(machine, pool.configuration)
        free = sorted(m for m in machines if m not in self._assigned.values() and m not in work.deleting)
        waiting = [
            i
            for i in sorted(pool.launches, key=lambda i: (pool.launches[i], i))
            if i not in self._assigned and i not in work.gone and i not in self._failed
        ]
        for launch_id, machine in zip(waiting, free, strict=False):
            self._assigned[launch_id] = machine
        surplus = free[len(waiting) :]
        if surplus and work.operation is None and not pool.busy:
            log.info("machines no launch of ours waits for; deleting them", pool=name, machines=surplus)
            work.deleting.update(surplus)
            work.to_delete.update(surplus)

    def _vanished(self, machine: str, configuration: NodeConfiguration) -> None:
        if configuration.capacity_type is not CapacityType.SPOT:
            log.warning("machine disappeared", instance_id=machine)
            return
        now = self._clock()
        log.warning("spot machine evicted", instance_id=machine)
        self._notices.append(InterruptionNotice(machine, InterruptionKind.SPOT_INTERRUPTION, now, now))

    # --- changing the pools ---------------------------------------------------------------------------------

    def _create_pool(
        self, name: str, configuration: NodeConfiguration, offering: Offering, request: LaunchRequest
    ) -> None:
        work = self._work[name]
        tags = {
            **{azure_tag(k): v for k, v in request.tags.items() if k != TAG_GANG},  # per launch, not per pool
            **ownership_tags(self._cluster_name),
            **{launch_tag(i): str(int(at.timestamp())) for i, (_, _, at) in work.queued.items()},
        }
        body = pool_body(configuration, offering, self._settings, count=len(work.queued), tags=tags)
        self._put(name, work, body, offering)

    def _advance(self, name: str, work: _PoolWork) -> None:
        """Check the operation in flight once; when none runs, send what is queued."""
        operation = work.operation
        if operation is not None:
            status = operation.advance()
            if status not in {SUCCEEDED, LOST, *FAILED}:
                return
            work.operation = None
            if status in FAILED:
                self._operation_failed(name, operation)
            else:
                log.info("agent pool operation succeeded", pool=name, kind=operation.kind)
        pool = self._pools.get(name)
        if pool is None or pool.busy or not work.pending:
            return
        if work.to_delete:
            self._delete_machines(name, work)
        else:
            self._scale(name, pool, work)

    def _operation_failed(self, name: str, operation: PoolOperation) -> None:
        fault = operation.polling.fault or AzureFault("OperationFailed", "the operation failed without an error")
        pool = self._pools.get(name)
        offering = self._offering_of(pool.configuration) if pool and pool.configuration else None
        error = classify(fault, what=f"agent pool {name} {operation.kind}", offering=offering, catalog=self.catalog())
        log.warning("agent pool operation failed", pool=name, kind=operation.kind, error=str(error))
        for launch_id in operation.launch_ids:
            self._failed[launch_id] = error
        if operation.kind == "delete-machines":
            work = self._work[name]
            work.deleting -= operation.machines

    def _scale(self, name: str, pool: PoolView, work: _PoolWork) -> None:
        machines = self._machines.get(name, {})
        tags = dict((pool.raw.get("properties") or {}).get("tags") or {})
        count = pool.count
        for launch_id in work.cancelled:
            tags.pop(launch_tag(launch_id), None)
            self._failed.pop(launch_id, None)
            if launch_id in pool.launches and launch_id not in self._assigned and count > len(machines):
                count -= 1
        for launch_id, (_, _, at) in work.queued.items():
            tags[launch_tag(launch_id)] = str(int(at.timestamp()))
            count += 1
        body = {**pool.raw, "properties": {**(pool.raw.get("properties") or {}), "count": count, "tags": tags}}
        for read_only in (
            "provisioningState",
            "status",
            "powerState",
            "currentOrchestratorVersion",
            "nodeImageVersion",
        ):
            body["properties"].pop(read_only, None)
        offering = self._offering_of(pool.configuration) if pool.configuration else None
        self._put(name, work, body, offering)

    def _put(self, name: str, work: _PoolWork, body: dict[str, Any], offering: Offering | None) -> None:
        launch_ids = frozenset(work.queued)
        try:
            polling = start(
                self._clients.containers.agent_pools.begin_create_or_update, self._rg, self._aks_name, name, body
            )
        except AzureError as e:
            for launch_id in launch_ids:
                work.queued.pop(launch_id, None)
            raise self._error(e, f"agentPools/put {name}", offering) from e
        work.operation = PoolOperation("scale", polling, self._clock(), launch_ids=launch_ids)
        for launch_id in work.cancelled:
            self._failed.pop(launch_id, None)
        work.dropped |= work.cancelled
        work.queued.clear()
        work.cancelled.clear()
        log.info(
            "agent pool scale submitted", pool=name, count=body["properties"].get("count"), launches=sorted(launch_ids)
        )

    def _delete_machines(self, name: str, work: _PoolWork) -> None:
        machines = frozenset(work.to_delete)
        try:
            polling = start(
                self._clients.containers.agent_pools.begin_delete_machines,
                self._rg,
                self._aks_name,
                name,
                {"machineNames": sorted(machines)},
            )
        except ResourceNotFoundError:
            work.to_delete -= machines
            return
        except AzureError as e:
            raise self._error(e, f"agentPools/{name}/deleteMachines", None) from e
        work.to_delete -= machines
        work.operation = PoolOperation("delete-machines", polling, self._clock(), machines=machines)
        log.info("agent pool machines deletion submitted", pool=name, machines=sorted(machines))

    def _cancel(self, launch_id: str) -> None:
        for name, work in self._work.items():
            if launch_id in work.queued:
                del work.queued[launch_id]
                log.info("queued launch cancelled", launch_id=launch_id, pool=name)
                return
        machine = self._assigned.get(launch_id)
        if machine is not None:
            self.terminate(machine)
            return
        if not any(launch_id in pool.launches for pool in self._pools.values()):
            self._sync()  # a pool this process created but has not read yet
        for name, pool in self._pools.items():
            if launch_id in pool.launches:
                work = self._work.setdefault(name, _PoolWork())
                work.cancelled.add(launch_id)
                self._advance(name, work)
                log.info("launch cancelled", launch_id=launch_id, pool=name)
                return
        self._failed.pop(launch_id, None)

    # --- instances ------------------------------------------------------------------------------------------

    def _find(self, launch_id: str) -> Instance | None:
        for work in self._work.values():
            if launch_id in work.queued:
                request, offering, at = work.queued[launch_id]
                return Instance.submitted(request, offering, created_at=at)
        for pool in self._pools.values():
            if launch_id in pool.launches:
                return self._instance_of(pool, launch_id)
        return None

    def _queued_instances(self, work: _PoolWork, skip: set[str]) -> list[Instance]:
        return [
            Instance.submitted(request, offering, created_at=at)
            for launch_id, (request, offering, at) in sorted(work.queued.items(), key=lambda kv: (kv[1][2], kv[0]))
            if launch_id not in skip
        ]

    def _instance_of(self, pool: PoolView, launch_id: str) -> Instance:
        configuration = pool.configuration
        offering = self._offering_of(configuration) if configuration else None
        machine = self._assigned.get(launch_id, "")
        resource_id = self._machines.get(pool.name, {}).get(machine, "")
        failure = self._failed.get(launch_id)
        if failure is None and pool.failed and not machine:
            failure = self._pool_failure(pool, offering)
        state = InstanceState.RUNNING if machine else InstanceState.PENDING
        tags = {**pool.tags, TAG_LAUNCH_ID: launch_id}
        return Instance(
            instance_id=machine or Instance.provisional_id(launch_id),
            provider_id=provider_id(resource_id) if resource_id else "",
            instance_type=configuration.instance_type if configuration else "",
            zone=configuration.zone if configuration else "",
            capacity_type=configuration.capacity_type if configuration else CapacityType.ON_DEMAND,
            launch_id=launch_id,
            state=InstanceState.FAILED if failure is not None else state,
            created_at=pool.launches.get(launch_id) or self._clock(),
            price_usd_per_hour=offering.price_usd_per_hour if offering else 0.0,
            tags=MappingProxyType(tags),
            configuration=configuration,
            failure=failure,
        )

    def _pool_failure(self, pool: PoolView, offering: Offering | None) -> ProviderError:
        fault = AzureFault.from_body(pool.fault_body) if pool.fault_body else AzureFault("Failed", "agent pool failed")
        return classify(fault, what=f"agent pool {pool.name}", offering=offering, catalog=self.catalog())

    def _offering_of(self, configuration: NodeConfiguration) -> Offering | None:
        ref = OfferingRef(configuration.instance_type, configuration.zone, configuration.capacity_type.value)
        return self._price_index().get(ref)

    def _price_index(self) -> dict[OfferingRef, Offering]:
        catalog = self.catalog()
        if self._index is None or self._index[0] is not catalog:
            self._index = (catalog, {o.ref: o for o in catalog})
        return self._index[1]

    def _in_zones(self, catalog: Catalog) -> Catalog:
        """Regional offerings of the catalog placed in each of `azure.zones` (`eastus-1`...), when zones are set."""
        if not self._azure.zones:
            return catalog
        region = self._azure.region
        zoned = {
            placed.ref: placed
            for o in catalog
            for placed in (
                (replace(o, zone=zone_label(region, z)) for z in self._azure.zones) if o.zone == region else (o,)
            )
        }
        return Catalog(catalog.cloud, catalog.region, tuple(zoned.values()), catalog.provenance, catalog.instance_types)

    def _error(self, error: AzureError, what: str, offering: Offering | None) -> ProviderError:
        return from_http_error(error, what=what, offering=offering, catalog=self.catalog())
