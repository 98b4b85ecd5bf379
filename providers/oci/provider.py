"""The OCI NodeProvider: OKE self-managed nodes as Compute instances, launched as Oracle's Karpenter provider does.

One `ComputeClient.launch_instance` per node: the OKE node image, the offering's availability domain (and a
fault domain when configured), cloud-init user data that joins the cluster, the node's labels and taints
(providers.oci.bootstrap), flexible shapes sized by `shape_config`, `preemptible_instance_config` (terminate on
preemption) for preemptible capacity. The call returns the instance's OCID at once; the launch's work request is
polled on later `list_instances()` calls, never waited on. docs/design/oci-provider.md says why self-managed
instances rather than node pools.

Launch identity lives in the cloud: the display name `luna-<cluster>-<launch id>`, an `opc_retry_token` derived
from the launch id and offering, freeform tags (cluster, owner, launch id, node pool, node configuration key) and
the node configuration itself in instance metadata. A Node's `spec.providerID` on OKE is the instance OCID.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import oci
import structlog
from oci.core.models import (
    CreateVnicDetails,
    InstanceOptions,
    InstanceSourceViaImageDetails,
    LaunchInstanceDetails,
    LaunchInstanceShapeConfigDetails,
    PreemptibleInstanceConfigDetails,
    TerminatePreemptionAction,
)

from luna_autoscaler.config import Config
from luna_autoscaler.errors import (
    InsufficientCapacity,
    OfferingRef,
    Permanent,
    ProviderConfigurationError,
    ProviderError,
)
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import Arch, CapacityType, Catalog, Offering
from luna_autoscaler.ports import (
    OWNER_VALUE,
    PROVISIONAL_PREFIX,
    TAG_CLUSTER,
    TAG_LAUNCH_ID,
    TAG_NODE_POOL,
    TAG_OWNER,
    Clock,
    Instance,
    InstanceState,
    InterruptionNotice,
    LaunchRequest,
)
from pricing.oci.live_catalog import LiveOciCatalog
from pricing.oci.price_list import fetch_parts
from pricing.oci.shapes import launch_shape
from pricing.price_age import PriceAge, PriceAgeCollector
from providers.oci.bootstrap import CONFIGURATION_KEY, Cluster, Networking, decode_configuration, instance_metadata
from providers.oci.classify import classified, from_work_request, insufficient_capacity
from providers.oci.clients import OciClients, all_pages
from providers.oci.config import OciConfig

log = structlog.get_logger(__name__)

TAG_CONFIGURATION_KEY = "luna.elotl.co/node-configuration"
MAX_CHOICES = 3  # offerings tried in one launch call after synchronous "out of host capacity" answers
SERVICE_ACCOUNT_CA = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
_STATES = {
    "PROVISIONING": InstanceState.PENDING,
    "STARTING": InstanceState.PENDING,
    "RUNNING": InstanceState.RUNNING,
    "MOVING": InstanceState.RUNNING,
    "CREATING_IMAGE": InstanceState.RUNNING,
    # Never stopped by this product: listed live so that garbage collection terminates it.
    "STOPPING": InstanceState.RUNNING,
    "STOPPED": InstanceState.RUNNING,
}
_GONE = frozenset({"TERMINATING", "TERMINATED"})
_WORK_REQUEST_FAILED = frozenset({"FAILED", "CANCELED", "CANCELING"})


@dataclass(frozen=True, slots=True)
class _Submitted:
    """A launch whose work request this process has not yet seen succeed."""

    work_request_id: str
    offering: OfferingRef


def retry_token(cluster_name: str, launch_id: str, offering: OfferingRef) -> str:
    """The same launch of the same offering is the same request for OCI (its retry tokens last 24 h)."""
    return hashlib.sha256(f"{cluster_name}/{launch_id}/{offering}".encode()).hexdigest()[:64]


def display_name(cluster_name: str, launch_id: str) -> str:
    return f"luna-{cluster_name}-{launch_id}"[:255]


def zone_of(availability_domain: str) -> str:
    """`Uocm:PHX-AD-1` → `PHX-AD-1`, the zone label OKE gives the node."""
    return availability_domain.rpartition(":")[2]


def place(bundled: Catalog, region: str, zones: Sequence[str]) -> Catalog:
    """The bundled shapes in this cluster's region and availability domains (OCI prices are region-invariant)."""
    seen: dict[tuple[str, CapacityType], Offering] = {}
    for o in bundled:
        seen.setdefault((o.name, o.capacity_type), o)
    offerings = tuple(replace(o, region=region, zone=zone) for o in seen.values() for zone in zones)
    return Catalog("oci", region, offerings, bundled.provenance, bundled.instance_types)


class OciProvider:
    """See the module docstring. Built by `providers.oci.create` (or by tests, with clients of their own)."""

    def __init__(
        self,
        *,
        config: Config,
        cluster_name: str,
        clients: OciClients,
        clock: Clock,
        bundled: Catalog,
        metrics_registry: Any = None,
    ) -> None:
        section = OciConfig.of(config)
        missing = [
            k
            for k, v in (
                ("compartmentId", section.compartment_id),
                ("subnetId", section.subnet_id),
                ("imageId", section.image_id),
            )
            if not v
        ]
        if missing:
            raise ProviderConfigurationError(f"oci.{', oci.'.join(missing)} must be set (docs/oci.md)")
        self._oci = section
        self._cluster_name = cluster_name
        self._clients = clients
        self._clock = clock
        self._bundled = bundled
        self._zones: dict[str, str] | None = None  # zone → availability domain
        self._prices: LiveOciCatalog | None = None
        self._cluster: Cluster | None = None
        self._submitted: dict[str, _Submitted] = {}
        self._failed: dict[str, Instance] = {}
        if metrics_registry is not None:
            metrics_registry.register(PriceAgeCollector(self, cloud="oci"))

    # --- NodeProvider ---------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return "oci"

    @property
    def features(self) -> Mapping[str, str]:
        return MappingProxyType(
            {"interruptions": "OCI terminates a preempted instance itself; its Node goes away and pods reschedule"}
        )

    def catalog(self) -> Catalog:
        if self._prices is None:
            placed = place(self._bundled, self._oci.region, sorted(self._availability_domains()))
            if not self._oci.arm_image_id:  # an x86 image does not boot on Ampere: no Arm shapes without one
                kept = tuple(o for o in placed if o.instance_type.arch is not Arch.ARM64)
                placed = Catalog(placed.cloud, placed.region, kept, placed.provenance, placed.instance_types)
            url = self._oci.price_list_url
            self._prices = LiveOciCatalog(
                placed,
                fetch=lambda: fetch_parts(url),
                clock=self._clock,
                refresh_seconds=self._oci.pricing_refresh_seconds,
            )
        return self._prices.catalog()

    def launch(self, request: LaunchRequest) -> Instance:
        if not request.offerings:
            raise Permanent(f"launch {request.launch_id}: no offering to launch")
        existing = self._launched(request.launch_id)
        if existing is not None:
            log.info("launch already done", launch_id=request.launch_id, instance_id=existing.instance_id)
            return existing
        capacity_type = request.offerings[0].capacity_type
        choices = [o for o in request.offerings if o.capacity_type is capacity_type][:MAX_CHOICES]
        refused: list[OfferingRef] = []
        for offering in choices:
            try:
                return self._launch_one(request, offering)
            except InsufficientCapacity as e:
                log.info("no host capacity", launch_id=request.launch_id, offering=str(offering.ref))
                refused.extend(e.offerings)
        raise insufficient_capacity(
            f"launch {request.launch_id}: out of host capacity for {', '.join(map(str, refused))}", refused
        )

    def terminate(self, instance_id: str) -> None:
        if instance_id.startswith(PROVISIONAL_PREFIX):
            launch_id = instance_id.removeprefix(PROVISIONAL_PREFIX)
            for raw in self._by_display_name(launch_id):
                self.terminate(str(raw.id))
            return
        self._failed.pop(instance_id, None)
        self._submitted.pop(instance_id, None)
        try:
            with classified(f"compute:TerminateInstance {instance_id}"):
                self._clients.compute.terminate_instance(instance_id, preserve_boot_volume=False)
        except (ProviderConfigurationError, Permanent) as e:
            cause = e.__cause__
            if isinstance(cause, oci.exceptions.ServiceError) and cause.status == 404:
                log.info("instance already gone", instance_id=instance_id)
                return
            raise
        log.info("instance terminated", instance_id=instance_id)

    def list_instances(self) -> Sequence[Instance]:
        listed: list[Instance] = []
        for raw in self._ours(self._list()):
            instance_id = str(raw.id)
            if instance_id in self._failed:
                continue
            if raw.lifecycle_state in _GONE:
                failure = self._work_request_failure(raw) if instance_id in self._submitted else None
                self._submitted.pop(instance_id, None)
                if failure is not None:
                    self._fail(self._instance(raw), failure, terminate=False)
                continue
            instance = self._instance(raw)
            if raw.lifecycle_state == "PROVISIONING":
                failure = self._launch_failure(raw)
                if failure is not None:
                    self._fail(instance, failure, terminate=True)
                    continue
            else:
                self._submitted.pop(instance_id, None)
            listed.append(instance)
        return [*listed, *self._failed.values()]

    def instance_id_of(self, provider_id: str) -> str | None:
        ocid = provider_id.removeprefix("oci://")
        return ocid if ocid.startswith("ocid1.instance.") else None

    def poll_interruptions(self) -> Sequence[InterruptionNotice]:
        return ()

    # --- beyond the port ------------------------------------------------------------------------------------

    def price_ages(self) -> Mapping[str, PriceAge]:
        """How old the prices in use are, and whether they are live (also the luna_price_age_seconds gauge)."""
        return self._prices.price_ages() if self._prices is not None else {}

    # --- launching ------------------------------------------------------------------------------------------

    def _launch_one(self, request: LaunchRequest, offering: Offering) -> Instance:
        zones = self._availability_domains()
        if offering.zone not in zones:
            raise Permanent(
                f"launch {request.launch_id}: {offering.zone} is not an availability domain of "
                f"{self._oci.region} ({', '.join(sorted(zones))})",
                [offering.ref],
            )
        configuration = request.configuration(offering)
        tags = self._tags(request, configuration.key)
        shape = launch_shape(offering.name)
        spot = offering.capacity_type is CapacityType.SPOT
        details = LaunchInstanceDetails(
            availability_domain=zones[offering.zone],
            fault_domain=self._fault_domain(request.launch_id),
            compartment_id=self._oci.compartment_id,
            display_name=display_name(self._cluster_name, request.launch_id),
            shape=shape.shape,
            shape_config=(
                LaunchInstanceShapeConfigDetails(ocpus=float(shape.ocpus), memory_in_gbs=float(shape.memory_gb))
                if shape.ocpus is not None and shape.memory_gb is not None
                else None
            ),
            source_details=InstanceSourceViaImageDetails(
                image_id=self._image_for(offering), boot_volume_size_in_gbs=self._oci.boot_volume_gb
            ),
            create_vnic_details=CreateVnicDetails(
                subnet_id=self._oci.subnet_id, nsg_ids=list(self._oci.nsg_ids) or None, assign_public_ip=False
            ),
            metadata=instance_metadata(
                configuration,
                self._cluster_coordinates(),
                Networking(self._oci.pod_subnet_ids, self._oci.pod_nsg_ids, self._oci.max_pods),
                ssh_authorized_keys=self._oci.ssh_authorized_keys,
            ),
            freeform_tags=tags,
            preemptible_instance_config=(
                PreemptibleInstanceConfigDetails(
                    preemption_action=TerminatePreemptionAction(type="TERMINATE", preserve_boot_volume=False)
                )
                if spot
                else None
            ),
            instance_options=InstanceOptions(are_legacy_imds_endpoints_disabled=True),
        )
        token = retry_token(self._cluster_name, request.launch_id, offering.ref)
        with classified(f"compute:LaunchInstance {request.launch_id}", [offering.ref]):
            response = self._clients.compute.launch_instance(details, opc_retry_token=token)
        raw = response.data
        work_request = str(response.headers.get("opc-work-request-id") or "")
        self._submitted[str(raw.id)] = _Submitted(work_request, offering.ref)
        log.info(
            "instance launch submitted",
            launch_id=request.launch_id,
            instance_id=raw.id,
            offering=str(offering.ref),
            work_request=work_request,
            price_usd_per_hour=offering.price_usd_per_hour,
        )
        return Instance.launched(
            request, offering, instance_id=str(raw.id), provider_id=str(raw.id), created_at=self._clock(), tags=tags
        )

    def _tags(self, request: LaunchRequest, configuration_key: str) -> dict[str, str]:
        return {
            **request.tags,
            **request.ownership_tags,
            TAG_NODE_POOL: request.tags.get(TAG_NODE_POOL) or request.labels.get(lbl.BIN_KIND) or "default",
            TAG_CONFIGURATION_KEY: configuration_key,
        }

    def _image_for(self, offering: Offering) -> str:
        it = offering.instance_type
        if it.accelerator is not None and self._oci.gpu_image_id:
            return self._oci.gpu_image_id
        if it.arch is Arch.ARM64 and self._oci.arm_image_id:
            return self._oci.arm_image_id
        return self._oci.image_id

    def _fault_domain(self, launch_id: str) -> str | None:
        domains = self._oci.fault_domains
        return domains[zlib.crc32(launch_id.encode()) % len(domains)] if domains else None

    def _availability_domains(self) -> dict[str, str]:
        if self._zones is None:
            names = list(self._oci.availability_domains)
            if not names:
                with classified("identity:ListAvailabilityDomains"):
                    found = self._clients.identity.list_availability_domains(self._oci.compartment_id).data
                names = [str(ad.name) for ad in found]
            if not names:
                raise ProviderConfigurationError(f"no availability domain found in {self._oci.region}")
            self._zones = {zone_of(name): name for name in names}
        return self._zones

    def _cluster_coordinates(self) -> Cluster:
        if self._cluster is None:
            endpoint = self._oci.api_server_endpoint
            if not endpoint:
                if not self._oci.cluster_id:
                    raise ProviderConfigurationError("oci.apiServerEndpoint or oci.clusterId must be set")
                with classified(f"containerengine:GetCluster {self._oci.cluster_id}"):
                    endpoints = self._clients.container_engine.get_cluster(self._oci.cluster_id).data.endpoints
                endpoint = str(getattr(endpoints, "private_endpoint", "") or "")
                if not endpoint:
                    raise ProviderConfigurationError(f"cluster {self._oci.cluster_id} has no private endpoint")
            ca = self._oci.cluster_ca
            if not ca:
                try:
                    ca = base64.b64encode(SERVICE_ACCOUNT_CA.read_bytes()).decode()
                except OSError as e:
                    raise ProviderConfigurationError(
                        f"oci.clusterCA is not set and the service account CA cannot be read: {e}"
                    ) from e
            self._cluster = Cluster(endpoint, ca)
        return self._cluster

    # --- listing --------------------------------------------------------------------------------------------

    def _list(self, **filters: str) -> list[Any]:
        with classified("compute:ListInstances"):
            return all_pages(self._clients.compute.list_instances, self._oci.compartment_id, **filters)

    def _ours(self, raws: Sequence[Any]) -> list[Any]:
        return [
            r
            for r in raws
            if (r.freeform_tags or {}).get(TAG_CLUSTER) == self._cluster_name
            and (r.freeform_tags or {}).get(TAG_OWNER) == OWNER_VALUE
        ]

    def _by_display_name(self, launch_id: str) -> list[Any]:
        found = self._list(display_name=display_name(self._cluster_name, launch_id))
        return [r for r in self._ours(found) if r.lifecycle_state not in _GONE]

    def _launched(self, launch_id: str) -> Instance | None:
        """The live instance an earlier call with this launch id made (idempotency across restarts)."""
        found = self._by_display_name(launch_id)
        if not found:
            return None
        return self._instance(min(found, key=lambda r: (r.time_created or datetime.max.replace(tzinfo=UTC), r.id)))

    def _instance(self, raw: Any) -> Instance:
        tags = dict(raw.freeform_tags or {})
        configuration = decode_configuration((raw.metadata or {}).get(CONFIGURATION_KEY))
        capacity_type = CapacityType.SPOT if raw.preemptible_instance_config is not None else CapacityType.ON_DEMAND
        zone = zone_of(str(raw.availability_domain or ""))
        instance_type = configuration.instance_type if configuration else _type_name(raw)
        created = raw.time_created if isinstance(raw.time_created, datetime) else self._clock()
        offering = self._priced(OfferingRef(instance_type, zone, capacity_type.value))
        return Instance(
            instance_id=str(raw.id),
            provider_id=str(raw.id),
            instance_type=instance_type,
            zone=zone,
            capacity_type=capacity_type,
            launch_id=tags.get(TAG_LAUNCH_ID, ""),
            state=_STATES.get(str(raw.lifecycle_state), InstanceState.PENDING),
            created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
            price_usd_per_hour=offering.price_usd_per_hour if offering else 0.0,
            tags=MappingProxyType(tags),
            configuration=configuration,
        )

    def _priced(self, ref: OfferingRef) -> Offering | None:
        return self._prices.current.find(ref) if self._prices is not None else None

    # --- launches the cloud gave up on ----------------------------------------------------------------------

    def _fail(self, instance: Instance, failure: ProviderError, *, terminate: bool) -> None:
        log.warning("launch failed", instance_id=instance.instance_id, launch_id=instance.launch_id, error=str(failure))
        self._failed[instance.instance_id] = replace(instance, state=InstanceState.FAILED, failure=failure)
        self._submitted.pop(instance.instance_id, None)
        if terminate:
            try:
                with classified(f"compute:TerminateInstance {instance.instance_id}"):
                    self._clients.compute.terminate_instance(instance.instance_id, preserve_boot_volume=False)
            except ProviderError as e:
                log.warning("terminating a failed launch failed; the loop will retry", error=str(e))

    def _launch_failure(self, raw: Any) -> ProviderError | None:
        """Why a PROVISIONING instance will never run: its work request failed, or no boot volume by the timeout."""
        failure = self._work_request_failure(raw)
        if failure is not None:
            return failure
        created = raw.time_created if isinstance(raw.time_created, datetime) else None
        if created is None or str(raw.shape).startswith("BM."):  # bare metal takes long; the loop's timeout rules
            return None
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        waited = (self._clock() - created).total_seconds()
        if waited < self._oci.launch_timeout_seconds:
            return None
        try:
            with classified(f"compute:ListBootVolumeAttachments {raw.id}"):
                attachments = self._clients.compute.list_boot_volume_attachments(
                    str(raw.availability_domain), str(raw.compartment_id), instance_id=str(raw.id)
                ).data
        except ProviderError as e:
            log.warning("cannot check the boot volume of a slow launch", instance_id=raw.id, error=str(e))
            return None
        if attachments:
            return None
        ref = self._instance(raw).offering
        return insufficient_capacity(
            f"instance {raw.id} has no boot volume {round(waited)} s after launch: treated as no capacity", [ref]
        )

    def _work_request_failure(self, raw: Any) -> ProviderError | None:
        submitted = self._submitted.get(str(raw.id))
        if submitted is None or not submitted.work_request_id:
            return None
        wr_id = submitted.work_request_id
        try:
            with classified(f"workrequests:GetWorkRequest {wr_id}"):
                status = str(self._clients.work_requests.get_work_request(wr_id).data.status)
            if status == "SUCCEEDED":
                self._submitted[str(raw.id)] = replace(submitted, work_request_id="")
                return None
            if status not in _WORK_REQUEST_FAILED:
                return None
            with classified(f"workrequests:ListWorkRequestErrors {wr_id}"):
                errors = all_pages(self._clients.work_requests.list_work_request_errors, wr_id)
        except ProviderError as e:
            log.warning("cannot poll a launch work request; will poll again", work_request=wr_id, error=str(e))
            return None
        messages = [str(err.message) for err in errors if getattr(err, "message", None)]
        return from_work_request(messages, what=f"launch work request {wr_id}", offerings=[submitted.offering])


def _type_name(raw: Any) -> str:
    """The instance type of an instance without a readable configuration: its shape, with the flexible size."""
    shape = str(raw.shape)
    sc = raw.shape_config
    if shape.endswith(".Flex") and sc is not None and sc.ocpus and sc.memory_in_gbs:
        return f"{shape}.{round(sc.ocpus)}o.{round(sc.memory_in_gbs)}g"
    return shape
