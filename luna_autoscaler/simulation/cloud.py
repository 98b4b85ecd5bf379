"""The cloud as the simulation plays it: machines that take minutes to join, spot capacity that is taken back,
offerings that run out.

`SimulatedCloud` is a `NodeProvider` that wraps another one (the in-memory fake provider, which keeps the
instance records, ids and prices) and adds what a real cloud does to them over time:

- Insufficient capacity: at any moment a seeded share of offerings (type × zone × capacity type) is sold out, a
  new draw every `ice_period_seconds`; launching one raises `InsufficientCapacity`, as EC2 does, so the loop
  must fall back. The draw hashes (seed, offering, period) so it is independent of call order.
- Join delay: a node registers a random (seeded, uniform) time after launch, longer for GPU machines (driver
  install and bigger images), and its GPUs become allocatable later still, when the device plugin starts.
- Spot interruption at the catalog's rate: AWS publishes, per spot offering, the band of the share of instances
  interrupted over a month (`<5%`, `5-10%`, ... `>20%`). The band's middle (25 % for `>20%`) is turned into a
  constant per-hour hazard; each spot machine draws its time to interruption at launch, gets the 2-minute
  notice through `poll_interruptions`, and is reclaimed at the deadline.
- Billing: per second from launch to termination, at the instance's price.

Everything random is drawn from generators seeded with (seed, instance id), so one seed gives one history.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from luna_autoscaler.errors import InsufficientCapacity, OfferingRef
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import (
    Clock,
    Instance,
    InterruptionKind,
    InterruptionNotice,
    LaunchRequest,
    NodeProvider,
)

HOURS_PER_MONTH = 730.0
_BAND = re.compile(
    r"^\s*(?:<\s*(?P<below>\d+(?:\.\d+)?)|>\s*(?P<above>\d+(?:\.\d+)?)|(?P<lo>\d+(?:\.\d+)?)\s*-\s*(?P<hi>\d+(?:\.\d+)?))\s*%\s*$"
)


def monthly_interruption(band: str | None, default: float) -> float:
    """AWS spot advisor band → share of instances interrupted per month (the band's middle; `>20%` → 25 %)."""
    m = _BAND.match(band or "")
    if m is None:
        return default
    if m["below"] is not None:
        return float(m["below"]) / 200
    if m["above"] is not None:
        return min(0.99, float(m["above"]) * 1.25 / 100)
    return (float(m["lo"]) + float(m["hi"])) / 200


def hourly_hazard(monthly_fraction: float) -> float:
    """Constant hazard per hour under which `monthly_fraction` of instances are interrupted within a month."""
    return -math.log(1.0 - monthly_fraction) / HOURS_PER_MONTH


@dataclass(frozen=True, slots=True)
class Span:
    """A uniform random duration in seconds."""

    low_seconds: float
    high_seconds: float

    def draw(self, rng: random.Random) -> float:
        return rng.uniform(self.low_seconds, self.high_seconds)


@dataclass(frozen=True, slots=True)
class CloudModel:
    """How the simulated cloud behaves; every figure says its unit. Defaults are what EKS shows in practice."""

    seed: int = 1
    cpu_join: Span = Span(60.0, 180.0)  # launch → Node Ready (EKS AL2023, small image)
    gpu_join: Span = Span(150.0, 300.0)  # GPU AMI boots slower (driver, larger images)
    gpu_plugin: Span = Span(30.0, 120.0)  # Node Ready → device plugin reports GPUs
    registration_failure_fraction: float = 0.0  # launches whose machine never becomes a Node
    ice_spot_fraction: float = 0.1  # share of spot offerings sold out at a time
    ice_on_demand_fraction: float = 0.02
    ice_period_seconds: float = 3600.0  # how long a sold-out draw lasts
    interruption_rate_multiplier: float = 1.0  # 1: the catalog's rates
    default_monthly_interruption: float = 0.10  # spot offerings without an AWS band (GCP, Azure, OCI)
    interruption_notice_seconds: float = 120.0  # AWS: 2 minutes; GCP/Azure: 30 s

    def sold_out(self, ref: OfferingRef, at_seconds: float) -> bool:
        fraction = self.ice_spot_fraction if ref.capacity_type == CapacityType.SPOT else self.ice_on_demand_fraction
        if fraction <= 0:
            return False
        period = int(at_seconds // self.ice_period_seconds)
        digest = hashlib.blake2b(f"{self.seed}|{ref}|{period}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < fraction

    def rng(self, instance_id: str) -> random.Random:
        return random.Random(f"{self.seed}|{instance_id}")


@dataclass(frozen=True, slots=True)
class Machine:
    """One instance's life as the cloud sees it, from launch to the end of its bill. Plain values only, so a
    run's record can cross a process boundary."""

    instance_id: str
    provider_id: str
    price_usd_per_hour: float
    offering: Offering
    labels: dict[str, str]  # asked for in the launch request (the node bootstrap configuration)
    taints: tuple[Taint, ...]
    launched_at: datetime
    joins_at: datetime | None  # None: it never registers
    gpus_ready_at: datetime | None
    interrupted_at: datetime | None  # when the notice comes (spot only, if the draw falls in time)
    ended_at: datetime | None = None
    end_reason: str = ""  # terminated | interrupted

    @property
    def gpus(self) -> int:
        return self.offering.instance_type.gpus

    def hours(self, until: datetime) -> float:
        end = min(self.ended_at or until, until)
        return max(0.0, (end - self.launched_at).total_seconds()) / 3600

    def cost_usd(self, until: datetime) -> float:
        return self.hours(until) * self.price_usd_per_hour


class SimulatedCloud:
    """A NodeProvider: the wrapped provider's instances, with the simulated cloud's timing, capacity and spot."""

    def __init__(self, inner: NodeProvider, model: CloudModel, clock: Clock, *, started_at: datetime) -> None:
        self._inner = inner
        self._model = model
        self._clock = clock
        self._started_at = started_at
        self._machines: dict[str, Machine] = {}
        self._joined: list[Machine] = []  # launched since the last take_launched()
        self._ended: list[Machine] = []  # terminated by the loop since the last take_ended()
        self._notices: list[InterruptionNotice] = []
        self.insufficient_capacity_errors = 0

    # ---- NodeProvider -----------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def features(self) -> Mapping[str, str]:
        return self._inner.features

    def catalog(self) -> Catalog:
        return self._inner.catalog()

    def launch(self, request: LaunchRequest) -> Instance:
        if not request.offerings:
            return self._inner.launch(request)
        offering = request.offerings[0]
        now = self._clock()
        if self._model.sold_out(offering.ref, (now - self._started_at).total_seconds()):
            self.insufficient_capacity_errors += 1
            raise InsufficientCapacity(
                f"simulated: no {offering.capacity_type.value} capacity for {offering.name} in {offering.zone}",
                [offering.ref],
                spot_unavailable=offering.capacity_type == CapacityType.SPOT,
            )
        instance = self._inner.launch(request)
        if instance.instance_id not in self._machines:
            machine = self._new_machine(instance, offering, request, now)
            self._machines[instance.instance_id] = machine
            self._joined.append(machine)
        return instance

    def terminate(self, instance_id: str) -> None:
        self._inner.terminate(instance_id)
        machine = self._machines.get(instance_id)
        if machine is not None and machine.ended_at is None:
            ended = dataclasses.replace(machine, ended_at=self._clock(), end_reason="terminated")
            self._machines[instance_id] = ended
            self._ended.append(ended)

    def list_instances(self) -> Sequence[Instance]:
        return self._inner.list_instances()

    def instance_id_of(self, provider_id: str) -> str | None:
        return self._inner.instance_id_of(provider_id)

    def poll_interruptions(self) -> Sequence[InterruptionNotice]:
        notices = [*self._inner.poll_interruptions(), *self._notices]
        self._notices.clear()
        return notices

    # ---- the simulation's side --------------------------------------------------------------------------

    def take_launched(self) -> list[Machine]:
        """Machines launched since the last call, with their join and interruption times drawn."""
        out, self._joined = self._joined, []
        return out

    def take_ended(self) -> list[Machine]:
        """Machines the loop terminated since the last call (their nodes, if any, go away now)."""
        out, self._ended = self._ended, []
        return out

    def machine(self, instance_id: str) -> Machine | None:
        return self._machines.get(instance_id)

    @property
    def machines(self) -> Sequence[Machine]:
        return tuple(self._machines.values())

    def send_notice(self, instance_id: str) -> datetime | None:
        """Queue the spot interruption notice of a live machine; returns the reclaim deadline."""
        machine = self._machines.get(instance_id)
        if machine is None or machine.ended_at is not None:
            return None
        now = self._clock()
        deadline = now + timedelta(seconds=self._model.interruption_notice_seconds)
        self._notices.append(InterruptionNotice(instance_id, InterruptionKind.SPOT_INTERRUPTION, now, deadline))
        return deadline

    def reclaim(self, instance_id: str) -> Machine | None:
        """The spot deadline passed: the cloud takes the machine back. Returns it if it was still alive."""
        machine = self._machines.get(instance_id)
        if machine is None or machine.ended_at is not None:
            return None
        self._inner.terminate(instance_id)
        ended = dataclasses.replace(machine, ended_at=self._clock(), end_reason="interrupted")
        self._machines[instance_id] = ended
        return ended

    def _new_machine(self, instance: Instance, offering: Offering, request: LaunchRequest, now: datetime) -> Machine:
        rng = self._model.rng(instance.instance_id)
        gpu = offering.instance_type.gpus > 0
        join_seconds = (self._model.gpu_join if gpu else self._model.cpu_join).draw(rng)
        plugin_seconds = self._model.gpu_plugin.draw(rng) if gpu else 0.0
        registers = rng.random() >= self._model.registration_failure_fraction
        interrupted_at = None
        if offering.capacity_type == CapacityType.SPOT:
            monthly = monthly_interruption(offering.interruption_band, self._model.default_monthly_interruption)
            hazard = hourly_hazard(monthly) * self._model.interruption_rate_multiplier
            if hazard > 0:
                interrupted_at = now + timedelta(hours=rng.expovariate(hazard))
        joins_at = now + timedelta(seconds=join_seconds) if registers else None
        return Machine(
            instance_id=instance.instance_id,
            provider_id=instance.provider_id,
            price_usd_per_hour=instance.price_usd_per_hour or offering.price_usd_per_hour,
            offering=offering,
            labels=dict(request.labels),
            taints=request.taints,
            launched_at=now,
            joins_at=joins_at,
            gpus_ready_at=joins_at + timedelta(seconds=plugin_seconds) if joins_at is not None else None,
            interrupted_at=interrupted_at,
        )
