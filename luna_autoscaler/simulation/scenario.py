"""A simulation scenario: which pods arrive when and for how long, what the cloud does, and the autoscaler's
configuration, in one YAML file (docs/simulation.md describes every key).

The pods come from traces in the Alibaba GPU-sharing trace's CSV format (`luna_autoscaler.traces`), replayed
over a window: pods alive at the window's start are all there at time zero (a cold start on an empty cluster),
pods created inside the window arrive at their creation time, and each runs, once bound, for the time it ran in
the trace (deletion - scheduled). Rows that never ran in the trace (no scheduled time) are left out, since how
long they would run is unknown. `timeScale` > 1 replays faster: arrivals and run times are both divided by it.

The bundled scenario (`default.yaml` next to this package's `scenarios/`) is what `luna-autoscaler simulate`
runs without `--scenario`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from luna_autoscaler.config import Config, config_from_mapping, duration_seconds
from luna_autoscaler.errors import ConfigError, ManifestError
from luna_autoscaler.models.manifest import daemonset_from_manifest, pod_from_manifest
from luna_autoscaler.models.pod import DaemonSet, Pod
from luna_autoscaler.models.resources import NVIDIA_GPU_SHARED
from luna_autoscaler.models.workloads import (
    KAI_POD_GROUP,
    KAI_QUEUE_LABELS,
    GroupKind,
    PodGroup,
    Queue,
    queue_from_manifest,
)
from luna_autoscaler.simulation.cloud import CloudModel, Span
from luna_autoscaler.simulation.scheduler import Scoring
from luna_autoscaler.traces import TraceRow, pod_manifest, read_trace

DEFAULT_SCENARIO = "default.yaml"
Seconds = Annotated[float, BeforeValidator(duration_seconds), Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class GangOption(_Model):
    """Whole-GPU pods of a trace grouped, in arrival order, into gangs of `size` (KAI PodGroups with that
    minMember): each gang arrives with its first member and runs as long as its longest one. A last group
    smaller than `size` stays ordinary pods."""

    size: int = Field(ge=2)
    min_gpus: int = Field(default=1, ge=1, alias="minGpus", description="pods asking at least this many GPUs")
    queue: str = Field(default="", description="the KAI queue the gangs' pods are in (label kai.scheduler/queue)")


class TraceSource(_Model):
    """One trace file replayed over a window of its own time (trace seconds)."""

    file: str
    namespace: str = "default"
    start: int = Field(ge=0, description="trace second that becomes simulation time zero")
    end: int | None = Field(default=None, description="last trace second whose creations arrive (default: the run)")
    time_scale: float = Field(default=1.0, gt=0, alias="timeScale")
    cpu_only: bool = Field(default=False, alias="cpuOnly")
    gpu_only: bool = Field(default=False, alias="gpuOnly")
    # Put on every pod of the trace (which has no scheduling constraints), e.g. the labels a cloud's documentation
    # tells users to select (GKE's `cloud.google.com/gke-gpu-sharing-strategy`...): the simulated nodes carry them.
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector")
    gangs: GangOption | None = None


class SpanModel(_Model):
    min: Seconds
    max: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> SpanModel:
        if self.max < self.min:
            raise ValueError("max is below min")
        return self

    def span(self) -> Span:
        return Span(self.min, self.max)


class CloudSection(_Model):
    """The simulated cloud (`simulation.cloud.CloudModel`)."""

    cpu_join: SpanModel = Field(default=SpanModel(min=60, max=180), alias="cpuNodeJoin")
    gpu_join: SpanModel = Field(default=SpanModel(min=150, max=300), alias="gpuNodeJoin")
    gpu_plugin: SpanModel = Field(default=SpanModel(min=30, max=120), alias="gpuDevicePluginDelay")
    registration_failure_fraction: float = Field(default=0.0, ge=0, le=1, alias="registrationFailureFraction")
    ice_spot_fraction: float = Field(default=0.1, ge=0, le=1, alias="insufficientCapacitySpotFraction")
    ice_on_demand_fraction: float = Field(default=0.02, ge=0, le=1, alias="insufficientCapacityOnDemandFraction")
    ice_period: Seconds = Field(default=3600.0, gt=0, alias="insufficientCapacityPeriod")
    interruption_rate_multiplier: float = Field(default=1.0, ge=0, alias="spotInterruptionRateMultiplier")
    default_monthly_interruption: float = Field(default=0.10, ge=0, lt=1, alias="defaultMonthlySpotInterruption")
    interruption_notice: Seconds = Field(default=120.0, alias="spotInterruptionNotice")

    def model(self, seed: int) -> CloudModel:
        return CloudModel(
            seed=seed,
            cpu_join=self.cpu_join.span(),
            gpu_join=self.gpu_join.span(),
            gpu_plugin=self.gpu_plugin.span(),
            registration_failure_fraction=self.registration_failure_fraction,
            ice_spot_fraction=self.ice_spot_fraction,
            ice_on_demand_fraction=self.ice_on_demand_fraction,
            ice_period_seconds=self.ice_period,
            interruption_rate_multiplier=self.interruption_rate_multiplier,
            default_monthly_interruption=self.default_monthly_interruption,
            interruption_notice_seconds=self.interruption_notice,
        )


class StaticNodes(_Model):
    """Nodes the autoscaler does not own (a system node group): there from the start, never touched.

    `instanceType` is a type name, or a mapping cloud → type name so that one scenario runs on every cloud.
    """

    name: str
    instance_type: str | dict[str, str] = Field(alias="instanceType")
    count: int = Field(default=1, ge=1)
    labels: dict[str, str] = Field(default_factory=dict)

    def type_on(self, cloud: str) -> str | None:
        """The instance type on `cloud` (None: this group has none there)."""
        if isinstance(self.instance_type, str):
            return self.instance_type
        return self.instance_type.get(cloud)


class ScenarioFile(_Model):
    name: str
    description: str = ""
    cloud: str = "aws"
    region: str | None = None
    hours: float = Field(default=12.0, gt=0)
    seed: int = 1
    cluster_name: str = Field(default="simulated", alias="clusterName")
    start: datetime = datetime(2025, 6, 2, 6, 0, tzinfo=UTC)
    reconcile_interval: Seconds = Field(default=10.0, gt=0, alias="reconcileInterval")
    scoring: Scoring = Scoring.LEAST_ALLOCATED
    traces: tuple[TraceSource, ...] = Field(min_length=1)
    cloud_model: CloudSection = Field(default_factory=CloudSection, alias="cloudModel")
    static_nodes: tuple[StaticNodes, ...] = Field(default=(), alias="staticNodes")
    daemonsets: tuple[dict[str, Any], ...] = ()
    queues: tuple[dict[str, Any], ...] = ()  # KAI Queue objects (scheduling.run.ai/v2)
    config: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Arrival:
    """A pod of the workload: when it is created (seconds from the start) and how long it runs once bound."""

    at_seconds: float
    pod: Pod
    run_seconds: float


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    source: str  # the file it came from
    cloud: str
    region: str | None
    hours: float
    seed: int
    cluster_name: str
    start: datetime
    reconcile_interval_seconds: float
    scoring: Scoring
    arrivals: tuple[Arrival, ...]
    cloud_model: CloudModel
    static_nodes: tuple[StaticNodes, ...]
    daemonsets: tuple[DaemonSet, ...]
    config: Config
    traces: tuple[TraceSource, ...]
    pod_groups: tuple[PodGroup, ...] = ()
    queues: tuple[Queue, ...] = ()

    def workload(self) -> str:
        """The pods in one line: `384 pods (306 whole-GPU, 50 GPU-share, 28 CPU-only), 45 running at time 0`."""
        shared = sum(1 for a in self.arrivals if a.pod.requests.get(NVIDIA_GPU_SHARED))
        gpu = sum(1 for a in self.arrivals if a.pod.requests.gpus()) - shared
        cpu = len(self.arrivals) - gpu - shared
        at_start = sum(1 for a in self.arrivals if a.at_seconds == 0)
        gangs = f", {len(self.pod_groups)} gangs" if self.pod_groups else ""
        return (
            f"{len(self.arrivals)} pods ({gpu} whole-GPU, {shared} GPU-share, {cpu} CPU-only{gangs}), "
            f"{at_start} of them running when the window opens"
        )


def _window(rows: Sequence[TraceRow], source: TraceSource, hours: float) -> list[tuple[float, TraceRow, float]]:
    """(arrival seconds, row, run seconds) of the rows the window replays, in arrival order."""
    end = source.end if source.end is not None else source.start + int(hours * 3600 * source.time_scale)
    out = []
    for row in rows:
        if row.creation_time is None or row.deletion_time is None or row.scheduled_time is None:
            continue
        if (source.cpu_only and row.num_gpu) or (source.gpu_only and not row.num_gpu):
            continue
        if row.creation_time < source.start:
            if row.deletion_time <= source.start:
                continue
            arrival, run = 0.0, row.deletion_time - max(row.scheduled_time, source.start)
        elif row.creation_time < end:
            arrival, run = row.creation_time - source.start, row.deletion_time - row.scheduled_time
        else:
            continue
        out.append((arrival / source.time_scale, row, max(1.0, run / source.time_scale)))
    out.sort(key=lambda item: (item[0], item[1].name))
    return out


def _in_gangs(arrivals: list[Arrival], option: GangOption, namespace: str) -> tuple[list[Arrival], list[PodGroup]]:
    """The arrivals with their whole-GPU pods grouped into gangs (GangOption), and the gangs' PodGroups."""
    members = [
        i
        for i, a in enumerate(arrivals)
        if not a.pod.requests.get(NVIDIA_GPU_SHARED) and a.pod.requests.gpus() >= option.min_gpus
    ]
    out = list(arrivals)
    groups: list[PodGroup] = []
    for g in range(len(members) // option.size):
        chosen = members[g * option.size : (g + 1) * option.size]
        name = f"gang-{g:04d}"
        groups.append(PodGroup(GroupKind.KAI, namespace, name, option.size, option.queue))
        at = min(arrivals[i].at_seconds for i in chosen)
        run = max(arrivals[i].run_seconds for i in chosen)
        for i in chosen:
            pod = arrivals[i].pod
            labels = {**pod.labels, KAI_QUEUE_LABELS[0]: option.queue} if option.queue else pod.labels
            annotations = {**pod.annotations, KAI_POD_GROUP: name}
            member = replace(pod, labels=MappingProxyType(labels), annotations=MappingProxyType(annotations))
            out[i] = Arrival(at, member, run)
    return out, groups


def _arrivals(file: ScenarioFile, base: Path, hours: float) -> tuple[tuple[Arrival, ...], tuple[PodGroup, ...]]:
    arrivals: list[Arrival] = []
    groups: list[PodGroup] = []
    for source in file.traces:
        path = base / source.file
        try:
            rows = read_trace(path)
        except OSError as e:
            raise ConfigError(f"trace {path}: cannot read: {e.strerror or e}") from None
        except (KeyError, ValueError) as e:
            raise ConfigError(f"trace {path}: not in the Alibaba trace format: {e}") from None
        mine = []
        for at, row, run in _window(rows, source, hours):
            if at >= hours * 3600:
                continue
            manifest = pod_manifest(row, namespace=source.namespace)
            if source.node_selector:
                manifest["spec"]["nodeSelector"] = dict(source.node_selector)
            mine.append(Arrival(at, pod_from_manifest(manifest), run))
        if source.gangs is not None:
            mine, made = _in_gangs(mine, source.gangs, source.namespace)
            groups += made
        arrivals += mine
    arrivals.sort(key=lambda a: (a.at_seconds, a.pod.key))
    return tuple(arrivals), tuple(groups)


def build_scenario(
    file: ScenarioFile,
    base: Path,
    *,
    source: str,
    hours: float | None = None,
    seed: int | None = None,
    cloud: str | None = None,
) -> Scenario:
    """Resolve a scenario file (traces relative to `base`) with the command line's overrides."""
    run_hours = hours if hours is not None else file.hours
    if run_hours <= 0:
        raise ConfigError(f"{source}: hours must be positive, got {run_hours:g}")
    run_seed = seed if seed is not None else file.seed
    try:
        daemonsets = tuple(daemonset_from_manifest(d) for d in file.daemonsets)
    except ManifestError as e:
        raise ConfigError(f"{source}: daemonsets: {e}") from None
    try:
        queues = tuple(queue_from_manifest(q) for q in file.queues)
    except ManifestError as e:
        raise ConfigError(f"{source}: queues: {e}") from None
    arrivals, pod_groups = _arrivals(file, base, run_hours)
    return Scenario(
        name=file.name,
        description=file.description,
        source=source,
        cloud=cloud or file.cloud,
        region=file.region if cloud in (None, file.cloud) else None,
        hours=run_hours,
        seed=run_seed,
        cluster_name=file.cluster_name,
        start=file.start,
        reconcile_interval_seconds=file.reconcile_interval,
        scoring=file.scoring,
        arrivals=arrivals,
        cloud_model=file.cloud_model.model(run_seed),
        static_nodes=file.static_nodes,
        daemonsets=daemonsets,
        config=config_from_mapping(file.config, source=f"{source}: config"),
        traces=file.traces,
        pod_groups=pod_groups,
        queues=queues,
    )


def parse_scenario(text: str, *, source: str) -> ScenarioFile:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML: {e}") from None
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{source}: expected a mapping (see docs/simulation.md)")
    try:
        return ScenarioFile.model_validate(doc)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None


def load_scenario(
    path: str | Path | None = None, *, hours: float | None = None, seed: int | None = None, cloud: str | None = None
) -> Scenario:
    """A scenario file (None: the bundled default), with the command line's overrides."""
    if path is None:
        bundled = resources.files("luna_autoscaler") / "scenarios" / DEFAULT_SCENARIO
        with resources.as_file(bundled) as real:
            source = f"bundled scenario {DEFAULT_SCENARIO}"
            file = parse_scenario(real.read_text(), source=source)
            return build_scenario(file, real.parent, source=source, hours=hours, seed=seed, cloud=cloud)
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror or e}") from None
    file = parse_scenario(text, source=str(p))
    return build_scenario(file, p.parent, source=str(p), hours=hours, seed=seed, cloud=cloud)
