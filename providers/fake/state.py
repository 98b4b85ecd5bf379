"""The fake cloud's machines as JSON, so that a fake cloud outlives the process that launched into it.

A real cloud keeps its instances when the autoscaler restarts or another replica takes the lead; a fake that kept
them only in memory made a new leader launch a second time for pods already covered (its in-flight launches were
gone). With `fake.stateFile` every port call reads and writes this state under an exclusive file lock, so any
number of processes share one fake cloud, as replicas share one real one.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from luna_autoscaler import errors
from luna_autoscaler.errors import OfferingRef, ProviderError
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import Instance, InstanceState, NodeConfiguration

_ERRORS: Mapping[str, type[ProviderError]] = {
    cls.__name__: cls
    for cls in (
        errors.InsufficientCapacity,
        errors.QuotaExceeded,
        errors.Permanent,
        errors.Transient,
        errors.ProviderConfigurationError,
    )
}


@dataclass
class CloudState:
    """Everything the fake cloud knows: machines by instance id, which launch made which, the id counter."""

    instances: dict[str, Instance] = field(default_factory=dict)
    by_launch_id: dict[str, str] = field(default_factory=dict)
    serial: int = 0


def _configuration(c: NodeConfiguration | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "instance_type": c.instance_type,
        "capacity_type": c.capacity_type.value,
        "zone": c.zone,
        "labels": dict(c.labels),
        "taints": [[t.key, t.value, t.effect] for t in c.taints],
        "gpu_mode": c.gpu_mode.as_record(),
    }


def _read_configuration(d: Mapping[str, Any] | None) -> NodeConfiguration | None:
    if d is None:
        return None
    return NodeConfiguration(
        instance_type=d["instance_type"],
        capacity_type=CapacityType(d["capacity_type"]),
        zone=d["zone"],
        labels=dict(d["labels"]),
        taints=tuple(Taint(k, v, e) for k, v, e in d["taints"]),
        gpu_mode=GpuMode.from_record(d["gpu_mode"]),
    )


def _failure(e: ProviderError | None) -> dict[str, Any] | None:
    if e is None:
        return None
    offerings = [[r.instance_type, r.zone, r.capacity_type] for r in getattr(e, "offerings", ())]
    return {"kind": type(e).__name__, "message": str(e), "offerings": offerings}


def _read_failure(d: Mapping[str, Any] | None) -> ProviderError | None:
    if d is None:
        return None
    cls = _ERRORS.get(d["kind"], errors.Permanent)
    refs = [OfferingRef(*r) for r in d["offerings"]]
    if cls in (errors.InsufficientCapacity, errors.QuotaExceeded, errors.Permanent):
        return cls(d["message"], refs)  # type: ignore[call-arg]
    return cls(d["message"])


def encode(state: CloudState) -> str:
    instances = [
        {
            "instance_id": i.instance_id,
            "provider_id": i.provider_id,
            "instance_type": i.instance_type,
            "zone": i.zone,
            "capacity_type": i.capacity_type.value,
            "launch_id": i.launch_id,
            "state": i.state.value,
            "created_at": i.created_at.isoformat(),
            "price_usd_per_hour": i.price_usd_per_hour,
            "tags": dict(i.tags),
            "configuration": _configuration(i.configuration),
            "failure": _failure(i.failure),
        }
        for i in state.instances.values()
    ]
    return json.dumps({"serial": state.serial, "by_launch_id": state.by_launch_id, "instances": instances}, indent=1)


def decode(text: str) -> CloudState:
    doc = json.loads(text)
    instances = {
        d["instance_id"]: Instance(
            instance_id=d["instance_id"],
            provider_id=d["provider_id"],
            instance_type=d["instance_type"],
            zone=d["zone"],
            capacity_type=CapacityType(d["capacity_type"]),
            launch_id=d["launch_id"],
            state=InstanceState(d["state"]),
            created_at=datetime.fromisoformat(d["created_at"]),
            price_usd_per_hour=d["price_usd_per_hour"],
            tags=dict(d["tags"]),
            configuration=_read_configuration(d["configuration"]),
            failure=_read_failure(d["failure"]),
        )
        for d in doc["instances"]
    }
    return CloudState(instances, dict(doc["by_launch_id"]), int(doc["serial"]))


class StateFile:
    """One JSON file shared by every process using it; `locked` yields the state and writes it back atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")

    @contextmanager
    def locked(self) -> Iterator[CloudState]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = decode(self.path.read_text()) if self.path.exists() else CloudState()
                yield state
                tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
                tmp.write_text(encode(state))
                tmp.replace(self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
