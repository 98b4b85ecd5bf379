"""The ConfigMap-tunable configuration: Luna's key names, validated, with units and defaults that say why.

One schema serves the in-cluster ConfigMap (hot-reloaded by the daemon) and the local `--config` file of `plan`,
`run` and `simulate`. A ConfigMap's `data` holds strings; each value is parsed as YAML, and keys may be dotted
(`scaleDown.nodeUnneededDuration: 5m`) or nested mappings. Errors name the key and why, never a stack trace.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from luna_autoscaler.errors import ConfigError, QuantityError, shown
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.constraints import parse_offerings
from luna_autoscaler.models.quantity import cpu_millis, whole_units
from luna_autoscaler.models.type_pattern import type_pattern

_DURATION = re.compile(r"(?P<n>[0-9]{1,15}(?:\.[0-9]{1,9})?)(?P<unit>ms|s|m|h|d)")
_NUMBER = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_DURATION_SECONDS = 366 * 86400.0
"""A year: every duration key is a timeout, TTL or delay, and one longer than that is a typo (or `inf`)."""


def duration_seconds(value: object) -> float:
    """`90`, `90s`, `5m`, `1h30m` → seconds. Bare numbers are seconds. ASCII digits only, at most a year."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value) if isinstance(value, float) or abs(value) <= MAX_DURATION_SECONDS else math.inf
    else:
        text = str(value).strip()
        if not text:
            raise ValueError("empty duration")
        seconds, pos = 0.0, 0
        if _NUMBER.fullmatch(text):
            seconds, pos = float(text), len(text)
        for m in _DURATION.finditer(text, pos):
            if m.start() != pos:
                break
            seconds += float(m["n"]) * _UNITS[m["unit"]]
            pos = m.end()
        if pos != len(text):
            raise ValueError(f"{shown(value)} is not a duration (e.g. 30s, 5m, 1h30m)")
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{shown(value)}: a duration must be zero or more")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"{shown(value)}: a duration must be at most 366d")
    return seconds


def _cpu(value: object) -> int:
    try:
        return cpu_millis(value)
    except QuantityError as e:
        raise ValueError(str(e)) from None


def _bytes(value: object) -> int:
    try:
        return whole_units(value)
    except QuantityError as e:
        raise ValueError(str(e)) from None


def _offerings(value: object) -> tuple[CapacityType, ...]:
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return parse_offerings(str(value), what="defaultOfferings")


def _selector(value: object) -> dict[str, str]:
    """Luna's "k=v,k2=v2" (any one matches), or a mapping."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for item in str(value or "").split(","):
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} is not key=value")
        out[key.strip()] = val.strip()
    return out


CpuMillis = Annotated[int, BeforeValidator(_cpu), Field(ge=0)]
Bytes = Annotated[int, BeforeValidator(_bytes), Field(ge=0)]
Seconds = Annotated[float, BeforeValidator(duration_seconds), Field(ge=0)]
Selector = Annotated[dict[str, str], BeforeValidator(_selector)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class TimeSlicing(_Section):
    """GPU time-slicing as the NVIDIA device plugin configures it: `replicas` pods share one physical GPU."""

    gpu_skus: tuple[str, ...] = Field(default=(), alias="gpuSkus")
    instance_type_regexp: str | None = Field(default=None, alias="instanceTypeRegexp")
    replicas: int = Field(ge=1, le=64)
    rename_by_default: bool = Field(default=False, alias="renameByDefault")

    @model_validator(mode="after")
    def _one_selector(self) -> TimeSlicing:
        if not self.gpu_skus and not self.instance_type_regexp:
            raise ValueError("give gpuSkus or instanceTypeRegexp")
        if self.instance_type_regexp:
            try:
                type_pattern(self.instance_type_regexp)
            except ValueError as e:
                raise ValueError(f"instanceTypeRegexp: {e}") from None
        return self


class ScaleDown(_Section):
    enabled: bool = True
    node_unneeded_duration_seconds: Seconds = Field(default=300.0, alias="nodeUnneededDuration")
    bin_pack_utilization_threshold: float = Field(default=0.2, ge=0, le=1, alias="binPackUtilizationThreshold")
    bin_select_utilization_threshold: float = Field(default=0.75, ge=0, le=1, alias="binSelectUtilizationThreshold")
    max_parallel_drains: int = Field(default=5, ge=1, alias="maxParallelDrains")
    consolidation: bool = False  # replace nodes by a cheaper set holding the same pods (off: it moves pods)
    delay_after_scale_up_seconds: Seconds = Field(default=120.0, alias="delayAfterScaleUp")


class Batching(_Section):
    """Pending pods are batched so one plan covers a burst (Karpenter: 1 s idle, 10 s max)."""

    idle_seconds: Seconds = Field(default=1.0, alias="idleDuration")
    max_seconds: Seconds = Field(default=10.0, alias="maxDuration")


class AwsConfig(_Section):
    region: str = "us-east-1"
    cluster_name: str = Field(default="", alias="clusterName")
    cluster_endpoint: str = Field(default="", alias="clusterEndpoint")
    cluster_ca: str = Field(default="", alias="clusterCA")
    cluster_version: str = Field(default="", alias="clusterVersion")
    service_cidr: str = Field(default="", alias="serviceCIDR")  # nodeadm needs it; "" → from EKS DescribeCluster
    zones: tuple[str, ...] = ()
    subnets: dict[str, str] = Field(default_factory=dict)  # zone → subnet id
    subnet_tag: str = Field(default="", alias="subnetSelectorTag")  # discover subnets tagged with this key
    security_groups: tuple[str, ...] = Field(default=(), alias="securityGroups")
    instance_profile: str = Field(default="", alias="instanceProfile")
    ami_family: str = Field(default="al2023", alias="amiFamily")
    ami_id: str = Field(default="", alias="amiId")
    root_volume_gib: int = Field(default=100, ge=8, alias="rootVolumeSize")
    root_volume_type: str = Field(default="gp3", alias="rootVolumeType")
    interruption_queue: str = Field(default="", alias="interruptionQueue")
    max_spot_interrupt_bucket: int | None = Field(default=None, ge=0, le=4, alias="maxSpotInterruptBucket")
    max_spot_price_ratio: float | None = Field(default=None, gt=0, le=1, alias="maxSpotPriceRatio")
    pricing_refresh_seconds: Seconds = Field(default=3600.0, alias="pricingRefreshInterval")


class GcpConfig(_Section):
    project: str = ""
    region: str = "us-central1"
    zones: tuple[str, ...] = ()
    cluster_name: str = Field(default="", alias="clusterName")
    node_pool_prefix: str = Field(default="luna-", alias="nodePoolPrefix")
    disk_size_gib: int = Field(default=100, ge=10, alias="diskSizeGb")
    service_account: str = Field(default="", alias="serviceAccount")


class AzureConfig(_Section):
    subscription_id: str = Field(default="", alias="subscriptionId")
    resource_group: str = Field(default="", alias="resourceGroup")
    region: str = "eastus"
    cluster_name: str = Field(default="", alias="clusterName")
    zones: tuple[str, ...] = ()
    os_disk_gib: int = Field(default=128, ge=30, alias="osDiskSizeGb")


class OciConfig(_Section):
    region: str = "us-sanjose-1"  # the bundled OCI catalog lists its shapes in us-sanjose-1 only
    compartment_id: str = Field(default="", alias="compartmentId")
    cluster_id: str = Field(default="", alias="clusterId")
    subnet_id: str = Field(default="", alias="subnetId")
    image_id: str = Field(default="", alias="imageId")
    availability_domains: tuple[str, ...] = Field(default=(), alias="availabilityDomains")


class Config(_Section):
    """Every key of the ConfigMap. Field aliases are the user-facing names (docs/configuration.md)."""

    labels: Selector = Field(default_factory=lambda: {"elotl-luna": "true"})
    pod_annotations: Selector = Field(default_factory=dict, alias="podAnnotations")

    bin_select_pod_cpu_threshold_millis: CpuMillis = Field(default=2000, alias="binSelectPodCpuThreshold")
    bin_select_pod_memory_threshold_bytes: Bytes = Field(default=8 * 2**30, alias="binSelectPodMemoryThreshold")
    bin_select_dedicated_nodes: bool = Field(default=False, alias="binSelectDedicatedNodes")
    bin_packing_node_cpu_millis: CpuMillis | None = Field(default=None, alias="binPackingNodeCpu")
    bin_packing_node_memory_bytes: Bytes | None = Field(default=None, alias="binPackingNodeMemory")
    bin_packing_node_min_pod_count: int = Field(default=0, ge=0, alias="binPackingNodeMinPodCount")
    bin_packing_node_type_regexp: str | None = Field(default=None, alias="binPackingNodeTypeRegexp")

    scale_down: ScaleDown = Field(default_factory=ScaleDown, alias="scaleDown")
    batching: Batching = Field(default_factory=Batching)

    spot_price_ratio_estimate: float = Field(default=0.35, gt=0, le=1, alias="spotPriceRatioEstimate")
    node_architecture: str = Field(default="amd64", alias="nodeArchitecture")
    default_offerings: Annotated[tuple[CapacityType, ...], BeforeValidator(_offerings)] = Field(
        default=(CapacityType.ON_DEMAND,), alias="defaultOfferings"
    )

    max_nodes: int | None = Field(default=None, ge=0, alias="maxNodes")
    max_gpus: int | None = Field(default=None, ge=0, alias="maxGpus")
    max_hourly_cost_usd: float | None = Field(default=None, ge=0, alias="maxHourlyCost")

    gpu_time_slicing: tuple[TimeSlicing, ...] = Field(default=(), alias="gpuTimeSlicing")
    gpu_taint: str = Field(default="nvidia.com/gpu=present:NoSchedule", alias="gpuTaint")
    node_labels: dict[str, str] = Field(default_factory=dict, alias="nodeLabels")
    node_taints: tuple[str, ...] = Field(default=(), alias="nodeTaints")
    node_tags: dict[str, str] = Field(default_factory=dict, alias="nodeTags")

    registration_timeout_seconds: Seconds = Field(default=900.0, alias="registrationTimeout")
    ice_ttl_seconds: Seconds = Field(default=180.0, alias="insufficientCapacityTTL")
    quota_ttl_seconds: Seconds = Field(default=3600.0, alias="quotaExceededTTL")

    aws: AwsConfig = Field(default_factory=AwsConfig)
    gcp: GcpConfig = Field(default_factory=GcpConfig)
    azure: AzureConfig = Field(default_factory=AzureConfig)
    oci: OciConfig = Field(default_factory=OciConfig)

    @field_validator("node_architecture")
    @classmethod
    def _arch(cls, v: str) -> str:
        allowed = {"amd64", "arm64", "amd64+arm64", "arm64|amd64", "amd64|arm64"}
        if v not in allowed:
            raise ValueError(f"{v!r} is not one of amd64, arm64, amd64+arm64, arm64|amd64")
        return v

    @field_validator("bin_packing_node_type_regexp")
    @classmethod
    def _regexp(cls, v: str | None) -> str | None:
        if v is not None:
            type_pattern(v)  # raises ValueError naming the problem
        return v

    @field_validator("node_taints")
    @classmethod
    def _taints(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for t in v:
            if not re.fullmatch(r"[^=:\s]+(=[^:\s]*)?:(NoSchedule|PreferNoSchedule|NoExecute)", t):
                raise ValueError(f"{t!r} is not key[=value]:Effect")
        return v

    def architectures(self) -> tuple[str, ...]:
        """Allowed node architectures in order of preference (`arm64|amd64`: arm64 first)."""
        return tuple(re.split(r"[+|]", self.node_architecture))


def _nest(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Turn dotted keys (`scaleDown.nodeUnneededDuration`) into nested mappings."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        parts = str(key).split(".")
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{source}: {key}: {part} is both a value and a section")
            node = child
        last = parts[-1]
        if isinstance(value, Mapping) and isinstance(node.get(last), dict):
            node[last].update(_nest(value, source))
        else:
            node[last] = _nest(value, source) if isinstance(value, Mapping) else value
    return out


def config_from_mapping(data: Mapping[str, Any], *, source: str = "config") -> Config:
    try:
        return Config.model_validate(_nest(data, source))
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None


def _yaml(text: str, where: str) -> Any:
    """Parse YAML; every way it can fail (syntax, a number past Python's 4,300-digit limit, nesting so deep it
    exhausts the stack) becomes a ConfigError naming `where`."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}") from None
    except ValueError as e:  # int("1" * 5000): "Exceeds the limit (4300 digits) for integer string conversion"
        raise ConfigError(f"{where}: a value cannot be read: {e}") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to read") from None


def config_from_configmap_data(data: Mapping[str, str], *, source: str = "ConfigMap") -> Config:
    """ConfigMap `data`: each value is a YAML string (`"5m"`, `"[T4, L4]"`, a nested block)."""
    parsed: dict[str, Any] = {}
    for key, raw in data.items():
        parsed[key] = _yaml(raw, f"{source}: {key}") if isinstance(raw, str) else raw
        if isinstance(raw, str) and isinstance(parsed[key], (int, float)) and key.endswith("Duration"):
            parsed[key] = raw  # keep "300" a duration in seconds, parsed below
    return config_from_mapping(parsed, source=source)


def config_from_yaml(text: str, *, source: str) -> Config:
    """A `--config` file: a plain mapping of the keys, or a ConfigMap manifest."""
    doc = _yaml(text, source)
    if doc is None:
        return Config()
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{source}: expected a mapping of configuration keys or a ConfigMap")
    if doc.get("kind") == "ConfigMap":
        data = doc.get("data") or {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: ConfigMap data must be a mapping")
        return config_from_configmap_data(data, source=source)
    return config_from_mapping(doc, source=source)


def config_from_file(path: str) -> Config:
    """The `--config FILE` of `plan`, `run` and `simulate`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}): configuration is YAML") from None
    return config_from_yaml(text, source=path)
