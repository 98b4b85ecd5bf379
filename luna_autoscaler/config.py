"""The ConfigMap-tunable configuration: Luna's key names, validated, with units and defaults that say why.

One schema serves the in-cluster ConfigMap (hot-reloaded by the daemon) and the local `--config` file of `plan`,
`run` and `simulate`. A ConfigMap's `data` holds strings; each value is parsed as YAML, and keys may be dotted
(`scaleDown.nodeUnneededDuration: 5m`) or nested mappings. Errors name the key and why, never a stack trace.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from luna_autoscaler.errors import ConfigError, QuantityError, shown
from luna_autoscaler.models.catalog import CapacityType, Catalog
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
    return parse_offerings(str(value), what="")  # the field's name is in the error's location already


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


class ConfigSection(BaseModel):
    """Base of every configuration section: unknown keys are errors (a typo never passes silently), frozen, and
    fields read by their user-facing alias or their Python name; no float may be `inf` or `nan`. Provider
    sections derive from it too."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    section_name: ClassVar[str] = ""  # a provider section's key (`aws`); "" for the core's own sections

    @classmethod
    def of(cls, config: Config) -> Self:
        """This provider section of `config` (defaults when the ConfigMap has none)."""
        return config.section(cls.section_name, cls)

    def catalog_policy(self, catalog: Catalog) -> Catalog:
        """A catalog of this section's cloud under its settings, as data: exclusions on the offerings the section
        forbids, node resources for the boot disk it configures. The catalog itself by default."""
        return catalog


S = TypeVar("S", bound=BaseModel)

SECTION_ENTRY_POINT_GROUP = "luna_autoscaler.config_sections"
"""Entry points naming each provider's configuration schema (`aws = "providers.aws.config:AwsConfig"`): the
module must import no cloud SDK, so every section validates whichever clouds' SDKs are installed."""


@functools.cache
def provider_sections() -> Mapping[str, type[BaseModel]]:
    """The configuration sections installed providers declare, by section name (loaded once)."""
    sections: dict[str, type[BaseModel]] = {}
    for entry in entry_points(group=SECTION_ENTRY_POINT_GROUP):
        model = entry.load()
        if isinstance(model, type) and issubclass(model, BaseModel):
            sections[entry.name] = model
    return MappingProxyType(sections)


def _where(err: Mapping[str, Any]) -> str:
    return ".".join(str(p) for p in err["loc"]) or "(top)"


def _message(err: Mapping[str, Any]) -> str:
    return str(err["msg"]).removeprefix("Value error, ")


class TimeSlicing(ConfigSection):
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


class MigPartitioning(ConfigSection):
    """Which GPUs the planner may partition with MIG for pods requesting `nvidia.com/mig-*` (docs/gpus.md)."""

    gpu_skus: tuple[str, ...] = Field(alias="gpuSkus", min_length=1)
    strategy: Literal["mixed", "single"] = "mixed"  # the GPU operator's MIG strategy in this cluster


class ScaleDown(ConfigSection):
    enabled: bool = True
    node_unneeded_duration_seconds: Seconds = Field(default=300.0, alias="nodeUnneededDuration")
    bin_pack_utilization_threshold: float = Field(default=0.2, ge=0, le=1, alias="binPackUtilizationThreshold")
    bin_select_utilization_threshold: float = Field(default=0.75, ge=0, le=1, alias="binSelectUtilizationThreshold")
    max_parallel_drains: int = Field(default=5, ge=1, alias="maxParallelDrains")
    consolidation: bool = False  # replace nodes by a cheaper set holding the same pods (off: it moves pods)
    delay_after_scale_up_seconds: Seconds = Field(default=120.0, alias="delayAfterScaleUp")


class Batching(ConfigSection):
    """Pending pods are batched so one plan covers a burst (Karpenter: 1 s idle, 10 s max)."""

    idle_seconds: Seconds = Field(default=1.0, alias="idleDuration")
    max_seconds: Seconds = Field(default=10.0, alias="maxDuration")


class Gangs(ConfigSection):
    """All-or-nothing launches of a gang's nodes (docs/gangs-and-queues.md)."""

    enabled: bool = True
    launch_deadline_seconds: Seconds = Field(default=300.0, gt=0, alias="launchDeadline")


class Config(ConfigSection):
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

    # Column generation rounds the planner may spend weighing node patterns against each other after its greedy
    # packing (planner/master.py): a work bound, never a time limit, so a plan stays deterministic. 0: greedy only.
    plan_optimization_rounds: int = Field(default=30, ge=0, le=1000, alias="planOptimizationRounds")

    scale_down: ScaleDown = Field(default_factory=ScaleDown, alias="scaleDown")
    batching: Batching = Field(default_factory=Batching)
    gangs: Gangs = Field(default_factory=Gangs)

    spot_price_ratio_estimate: float = Field(default=0.35, gt=0, le=1, alias="spotPriceRatioEstimate")
    node_architecture: str = Field(default="amd64", alias="nodeArchitecture")
    default_offerings: Annotated[tuple[CapacityType, ...], BeforeValidator(_offerings)] = Field(
        default=(CapacityType.ON_DEMAND,), alias="defaultOfferings"
    )

    max_nodes: int | None = Field(default=None, ge=0, alias="maxNodes")
    max_gpus: int | None = Field(default=None, ge=0, alias="maxGpus")
    max_hourly_cost_usd: float | None = Field(default=None, ge=0, alias="maxHourlyCost")

    gpu_time_slicing: tuple[TimeSlicing, ...] = Field(default=(), alias="gpuTimeSlicing")
    mig_partitioning: MigPartitioning | None = Field(default=None, alias="migPartitioning")
    gpu_taint: str = Field(default="nvidia.com/gpu=present:NoSchedule", alias="gpuTaint")
    node_labels: dict[str, str] = Field(default_factory=dict, alias="nodeLabels")
    node_taints: tuple[str, ...] = Field(default=(), alias="nodeTaints")
    node_tags: dict[str, str] = Field(default_factory=dict, alias="nodeTags")

    registration_timeout_seconds: Seconds = Field(default=900.0, alias="registrationTimeout")
    ice_ttl_seconds: Seconds = Field(default=180.0, alias="insufficientCapacityTTL")
    quota_ttl_seconds: Seconds = Field(default=3600.0, alias="quotaExceededTTL")

    # Per-cloud sections (`aws.*`, `gcp.*`, ...), each validated by the schema its provider registers
    # (`provider_sections`); the core never names a cloud. Read them with `section(name, Model)`.
    sections: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _provider_sections(cls, data: Any) -> Any:
        """Take each registered provider's section out of the input and validate it with that provider's schema
        (absent: its defaults, so every installed cloud's section is always there); a key no provider registered
        stays, and is refused as unknown like any other."""
        if not isinstance(data, Mapping):
            return data
        known = provider_sections()
        out = dict(data)
        sections = dict(out.get("sections") or {})
        problems = []
        for name, model in known.items():
            raw = out.pop(name, None)
            if raw is None and name in sections:
                continue
            try:
                sections[name] = raw if isinstance(raw, model) else model.model_validate({} if raw is None else raw)
            except ValidationError as e:
                problems += [f"{name}.{_where(err)}: {_message(err)}" for err in e.errors()]
        if problems:
            raise ValueError("; ".join(problems))
        out["sections"] = sections
        return out

    def document(self) -> dict[str, Any]:
        """The whole configuration by its user-facing names, provider sections included (for the start-up log)."""
        doc = self.model_dump(mode="json", by_alias=True)
        for name, value in sorted(self.sections.items()):
            if isinstance(value, BaseModel):
                doc[name] = value.model_dump(mode="json", by_alias=True)
        return doc

    def section(self, name: str, model: type[S]) -> S:
        """The validated `name` section (its provider's schema), or that schema's defaults when it is absent."""
        value = self.sections.get(name)
        return value if isinstance(value, model) else model()

    def with_cloud_policy(self, catalog: Catalog) -> Catalog:
        """`catalog` under the policy of its cloud's section (`ConfigSection.catalog_policy`), for those who plan
        without that cloud's provider (`plan`, the fake); a provider applies its own section to its catalog."""
        section = self.sections.get(catalog.cloud)
        return section.catalog_policy(catalog) if isinstance(section, ConfigSection) else catalog

    def with_section(self, name: str, value: BaseModel) -> Config:
        """This configuration with one provider section replaced (e.g. the simulated cloud of the fake)."""
        return self.model_copy(update={"sections": {**self.sections, name: value}})

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


def config_keys() -> tuple[str, ...]:
    """Every user-facing key, dotted (`scaleDown.nodeUnneededDuration`, `aws.region`), provider sections
    included: what the docs must name and a ConfigMap may set. List-valued sections (`gpuTimeSlicing`) are one key."""

    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            if model is Config and name == "sections":
                continue
            key = prefix + (field.alias or name)
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                out += walk(annotation, key + ".")
            else:
                out.append(key)
        return out

    keys = walk(Config, "")
    for name, model in sorted(provider_sections().items()):
        keys += walk(model, name + ".")
    return tuple(keys)


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


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error in one line that points into the file (`line 2, column 6: not valid YAML: mapping values are
    not allowed here`); PyYAML's own text names the stream `<unicode string>` and spans several lines."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}not valid YAML: {problem}"


def config_from_mapping(data: Mapping[str, Any], *, source: str = "config") -> Config:
    try:
        return Config.model_validate(_nest(data, source))
    except ValidationError as e:
        problems = "; ".join(
            _message(err) if not err["loc"] else f"{_where(err)}: {_message(err)}" for err in e.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None


def _yaml(text: str, where: str) -> Any:
    """Parse YAML; every way it can fail (syntax, a number past Python's 4,300-digit limit, nesting so deep it
    exhausts the stack) becomes a ConfigError naming `where`."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: {yaml_problem(e)}") from None
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
