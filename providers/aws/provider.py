"""The AWS NodeProvider: EKS nodes as EC2 instances launched by instant fleets, priced live.

It composes the pieces of this package: live prices over the bundled catalog (pricing.aws), the zones reachable
through subnets and the spot limits of `aws.*` (offering_policy), one launch template per node configuration
(launch_templates, images, bootstrap), one CreateFleet per node (fleet), error classification (classify) and the
interruption queue (interruptions). Instances are ours when they carry the cluster and owner tags; a Node's
`spec.providerID` is `aws:///<zone>/<instance id>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from luna_autoscaler.config import Config
from luna_autoscaler.errors import OfferingRef, Permanent, ProviderConfigurationError
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.ports import (
    OWNER_VALUE,
    TAG_CLUSTER,
    TAG_LAUNCH_ID,
    TAG_NODE_POOL,
    TAG_OWNER,
    Clock,
    Instance,
    InstanceState,
    InterruptionNotice,
    LaunchRequest,
    NodeConfiguration,
)
from pricing.aws.live_catalog import LiveAwsCatalog, PriceAge, PriceAgeCollector
from providers.aws.bootstrap import user_data
from providers.aws.classify import (
    LAUNCH_TEMPLATE_GONE_CODES,
    classified,
    error_code,
    from_botocore_error,
    from_client_error,
)
from providers.aws.clients import AwsClients
from providers.aws.cluster import EksCluster, describe_cluster
from providers.aws.config import AwsConfig
from providers.aws.fleet import (
    MAX_OVERRIDES,
    FleetChoice,
    FleetOutcome,
    fleet_error,
    fleet_request,
    read_fleet_response,
)
from providers.aws.images import Images
from providers.aws.interruptions import InterruptionQueue
from providers.aws.launch_templates import LaunchTemplates, TemplateContent
from providers.aws.offering_policy import launchable
from providers.aws.placement_groups import PlacementGroups
from providers.aws.subnets import Subnets

log = structlog.get_logger(__name__)

SUPPORTED_AMI_FAMILIES = ("al2023",)
_PROVIDER_ID = re.compile(r"^aws:///(?:[^/]*/)?(i-[0-9a-f]+)$")
# Instances we own and still pay for. A stopped one of ours has no Node and is reported live so that garbage
# collection terminates it (this product never stops instances). One already shutting down is no longer listed:
# nothing is left to do with it.
_LIVE_STATES = {
    "pending": InstanceState.PENDING,
    "running": InstanceState.RUNNING,
    "stopping": InstanceState.RUNNING,
    "stopped": InstanceState.RUNNING,
}


TAG_CONFIGURATION = "luna.elotl.co/node-configuration"
TAG_VALUE_MAX = 256  # EC2's limit on a tag value


def provider_id(zone: str, instance_id: str) -> str:
    return f"aws:///{zone}/{instance_id}"


def configuration_tags(request: LaunchRequest) -> dict[str, str]:
    """The launch's node configuration as instance tags (`<key>.0`, `<key>.1`... in 256-character pieces), less
    what the instance's own offering implies, so that a restart reads back labels, taints and GPU mode."""
    text = request.configuration().record(request.offerings[0].labels())
    pieces = [text[i : i + TAG_VALUE_MAX] for i in range(0, len(text), TAG_VALUE_MAX)]
    return {f"{TAG_CONFIGURATION}.{n}": piece for n, piece in enumerate(pieces)}


def recorded_configuration(tags: Mapping[str, str], offering: Offering | None) -> NodeConfiguration | None:
    pieces = []
    while (piece := tags.get(f"{TAG_CONFIGURATION}.{len(pieces)}")) is not None:
        pieces.append(piece)
    if not pieces or offering is None:
        return None
    return NodeConfiguration.recorded(
        "".join(pieces),
        instance_type=offering.name,
        capacity_type=offering.capacity_type,
        zone=offering.zone,
        derived_labels=offering.labels(),
    )


def _tag_map(raw: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw or []}


class AwsProvider:
    """See the module docstring. Built by `providers.aws.create` (or by tests, with clients of their own)."""

    def __init__(
        self,
        *,
        config: Config,
        cluster_name: str,
        clients: AwsClients,
        clock: Clock,
        bundled: Catalog,
        metrics_registry: Any = None,
    ) -> None:
        aws = AwsConfig.of(config)
        if aws.ami_family not in SUPPORTED_AMI_FAMILIES:
            raise ProviderConfigurationError(
                f"aws.amiFamily {aws.ami_family!r} is not supported: use {', '.join(SUPPORTED_AMI_FAMILIES)} "
                "(aws.amiId may name a custom AL2023-based image)"
            )
        if not aws.instance_profile:
            raise ProviderConfigurationError(
                "aws.instanceProfile is required: the instance profile of the node IAM role (docs/aws.md)"
            )
        self._aws = aws
        self._spot_ratio = config.spot_price_ratio_estimate
        self._cluster_name = cluster_name
        self._eks_name = aws.cluster_name or cluster_name
        self._clients = clients
        self._clock = clock
        self._subnets = Subnets(clients.ec2, aws, clock)
        self._images = Images(clients.ssm, clock, pinned_image_id=aws.ami_id)
        self._templates = LaunchTemplates(clients.ec2)
        self._placement_groups = PlacementGroups(clients.ec2)
        self._eks: EksCluster | None = None
        self._prices = LiveAwsCatalog(
            bundled,
            pricing_client=clients.pricing,
            ec2_client=clients.ec2,
            clock=clock,
            refresh_seconds=aws.pricing_refresh_seconds,
        )
        if metrics_registry is not None:
            metrics_registry.register(PriceAgeCollector(self._prices))
        self._queue = InterruptionQueue(clients.sqs, aws.interruption_queue, clock) if aws.interruption_queue else None
        self._launchable: tuple[Catalog, tuple[str, ...], Catalog] | None = None
        self._price_index: tuple[Catalog, dict[OfferingRef, Offering]] | None = None

    # --- NodeProvider ---------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return "aws"

    @property
    def features(self) -> Mapping[str, str]:
        if self._queue is None:
            return MappingProxyType({"interruptions": "aws.interruptionQueue is not set (docs/aws.md)"})
        return MappingProxyType({})

    def catalog(self) -> Catalog:
        priced = self._prices.catalog()
        zones = tuple(sorted(self._subnets.by_zone()))
        cached = self._launchable
        if cached is not None and cached[0] is priced and cached[1] == zones:
            return cached[2]
        result = launchable(priced, zones=zones, aws=self._aws)
        self._launchable = (priced, zones, result)
        return result

    def launch(self, request: LaunchRequest) -> Instance:
        if not request.offerings:
            raise Permanent(f"launch {request.launch_id}: no offering to launch")
        existing = self._launched(request.launch_id)
        if existing is not None:
            log.info("launch already done", launch_id=request.launch_id, instance_id=existing.instance_id)
            return existing
        tags = self._instance_tags(request)
        if request.placement_group:
            self._placement_groups.ensure(request.placement_group, request.ownership_tags)
        outcome = self._create_fleet(request.launch_id, self._fleet_choices(request), tags, request.placement_group)
        if not outcome.launched:
            raise fleet_error(request.launch_id, outcome.failures)
        instance_id, choice = outcome.launched[0]
        if outcome.failures:
            log.info(
                "fleet launched after some overrides failed",
                launch_id=request.launch_id,
                instance_id=instance_id,
                failed={str(ref): f.code for f in outcome.failures for ref in f.refs},
            )
        for extra, _ in outcome.launched[1:]:
            log.warning("fleet launched more than one instance; terminating the extra", instance_id=extra)
            self.terminate(extra)
        o = choice.offering
        log.info(
            "instance launched",
            launch_id=request.launch_id,
            instance_id=instance_id,
            offering=str(o.ref),
            price_usd_per_hour=o.price_usd_per_hour,
        )
        return Instance.launched(
            request,
            o,
            instance_id=instance_id,
            provider_id=provider_id(o.zone, instance_id),
            created_at=self._clock(),
            tags=tags,
        )

    def terminate(self, instance_id: str) -> None:
        what = f"ec2:TerminateInstances {instance_id}"
        try:
            self._clients.ec2.terminate_instances(InstanceIds=[instance_id])
        except ClientError as e:
            if error_code(e) == "InvalidInstanceID.NotFound":
                log.info("instance already gone", instance_id=instance_id)
                return
            raise from_client_error(e, what=what) from e
        except BotoCoreError as e:
            raise from_botocore_error(e, what=what) from e
        log.info("instance terminated", instance_id=instance_id)

    def list_instances(self) -> Sequence[Instance]:
        return self._describe(
            [
                {"Name": f"tag:{TAG_CLUSTER}", "Values": [self._cluster_name]},
                {"Name": f"tag:{TAG_OWNER}", "Values": [OWNER_VALUE]},
                {"Name": "instance-state-name", "Values": sorted(_LIVE_STATES)},
            ]
        )

    def instance_id_of(self, provider_id: str) -> str | None:
        match = _PROVIDER_ID.match(provider_id)
        return match.group(1) if match else None

    def poll_interruptions(self) -> Sequence[InterruptionNotice]:
        return self._queue.poll() if self._queue is not None else ()

    # --- beyond the port ------------------------------------------------------------------------------------

    def price_ages(self) -> dict[str, PriceAge]:
        """How old the on-demand and spot prices in use are, and whether they are live (also a metric)."""
        return self._prices.price_ages()

    # --- internals ------------------------------------------------------------------------------------------

    def _fleet_choices(self, request: LaunchRequest) -> list[FleetChoice]:
        """One override per offering of the first offering's capacity type that has a subnet, in planner order."""
        capacity_type = request.offerings[0].capacity_type
        offerings = [o for o in request.offerings if o.capacity_type is capacity_type][:MAX_OVERRIDES]
        subnets = self._subnets.by_zone()
        reachable = [o for o in offerings if o.zone in subnets]
        if not reachable:
            raise Permanent(
                f"launch {request.launch_id}: no subnet in zones {sorted({o.zone for o in offerings})}",
                [o.ref for o in offerings],
            )
        eks = self._cluster()
        return [
            FleetChoice(o, self._templates.ensure(self._node_configuration(o, request, eks)), subnets[o.zone])
            for o in reachable
        ]

    def _create_fleet(
        self, launch_id: str, choices: list[FleetChoice], tags: Mapping[str, str], placement_group: str
    ) -> FleetOutcome:
        what = f"ec2:CreateFleet {launch_id}"
        refs = [c.ref for c in choices]
        try:
            answer = self._clients.ec2.create_fleet(**fleet_request(launch_id, choices, tags, placement_group))
        except ClientError as e:
            if error_code(e) in LAUNCH_TEMPLATE_GONE_CODES:
                for choice in choices:
                    self._templates.forget(choice.launch_template)
            raise from_client_error(e, what=what, offerings=refs) from e
        except BotoCoreError as e:
            raise from_botocore_error(e, what=what, offerings=refs) from e
        outcome = read_fleet_response(answer, choices)
        for failure in outcome.failures:
            if failure.code in LAUNCH_TEMPLATE_GONE_CODES:
                for name in failure.launch_templates:
                    self._templates.forget(name)
        return outcome

    def _cluster(self) -> EksCluster:
        if self._eks is None:
            self._eks = describe_cluster(self._aws, self._eks_name, self._clients.eks)
        return self._eks

    def _node_configuration(self, o: Offering, request: LaunchRequest, eks: EksCluster) -> TemplateContent:
        labels = {**request.labels, **o.labels()}
        return TemplateContent(
            cluster_name=self._eks_name,
            image_id=self._images.image_for(eks.coordinates.version, o.instance_type),
            user_data=user_data(eks.coordinates, labels, request.taints),
            instance_profile=self._aws.instance_profile,
            security_group_ids=eks.security_group_ids,
            root_volume_gib=self._aws.root_volume_gib,
            root_volume_type=self._aws.root_volume_type,
            tags={TAG_CLUSTER: request.cluster_name, TAG_OWNER: OWNER_VALUE, **self._cluster_tag()},
        )

    def _cluster_tag(self) -> dict[str, str]:
        return {f"kubernetes.io/cluster/{self._eks_name}": "owned"}

    def _instance_tags(self, request: LaunchRequest) -> dict[str, str]:
        custom = {k: v for k, v in request.tags.items() if not k.lower().startswith("aws:")}
        if len(custom) != len(request.tags):
            log.warning("tags starting with aws: are reserved by AWS and were dropped", launch_id=request.launch_id)
        return {
            **custom,
            **request.ownership_tags,
            **configuration_tags(request),
            TAG_NODE_POOL: request.tags.get(TAG_NODE_POOL) or request.labels.get(lbl.BIN_KIND) or "default",
            **self._cluster_tag(),
            "Name": f"luna-{request.cluster_name}-{request.launch_id}"[:255],
        }

    def _launched(self, launch_id: str) -> Instance | None:
        """The live instance an earlier call with this launch id made (idempotency across restarts)."""
        found = self._describe(
            [
                {"Name": f"tag:{TAG_CLUSTER}", "Values": [self._cluster_name]},
                {"Name": f"tag:{TAG_LAUNCH_ID}", "Values": [launch_id]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )
        return min(found, key=lambda i: (i.created_at, i.instance_id)) if found else None

    def _describe(self, filters: list[dict[str, object]]) -> list[Instance]:
        instances: list[Instance] = []
        with classified("ec2:DescribeInstances"):
            for page in self._clients.ec2.get_paginator("describe_instances").paginate(Filters=filters):
                for reservation in page.get("Reservations", []):
                    instances.extend(self._instance(raw) for raw in reservation.get("Instances", []))
        return instances

    def _instance(self, raw: Mapping[str, Any]) -> Instance:
        tags = _tag_map(raw.get("Tags"))
        zone = str(raw.get("Placement", {}).get("AvailabilityZone", ""))
        capacity_type = CapacityType.SPOT if raw.get("InstanceLifecycle") == "spot" else CapacityType.ON_DEMAND
        launched_at = raw.get("LaunchTime")
        if not isinstance(launched_at, datetime):
            launched_at = self._clock()
        elif launched_at.tzinfo is None:
            launched_at = launched_at.replace(tzinfo=UTC)
        offering = self._priced(OfferingRef(str(raw["InstanceType"]), zone, capacity_type.value))
        return Instance(
            instance_id=str(raw["InstanceId"]),
            provider_id=provider_id(zone, str(raw["InstanceId"])),
            instance_type=str(raw["InstanceType"]),
            zone=zone,
            capacity_type=capacity_type,
            launch_id=tags.get(TAG_LAUNCH_ID, ""),
            state=_LIVE_STATES.get(str(raw.get("State", {}).get("Name", "")), InstanceState.PENDING),
            created_at=launched_at,
            price_usd_per_hour=offering.price_usd_per_hour if offering else 0.0,
            tags=MappingProxyType(tags),
            configuration=recorded_configuration(tags, offering),
        )

    def _priced(self, ref: OfferingRef) -> Offering | None:
        """The offering an instance runs as, for its price: a spot instance of a type without an observed spot
        price was bought at the planner's estimate (`Offering.spot_estimate`, at the ratio of our start)."""
        current = self._prices.current
        if self._price_index is None or self._price_index[0] is not current:
            self._price_index = (current, {o.ref: o for o in current})
        index = self._price_index[1]
        found = index.get(ref)
        if found is None and ref.capacity_type == CapacityType.SPOT.value:
            on_demand = index.get(OfferingRef(ref.instance_type, ref.zone, CapacityType.ON_DEMAND.value))
            return on_demand.spot_estimate(self._spot_ratio) if on_demand else None
        return found
