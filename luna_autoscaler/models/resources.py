"""Resource vectors: what a pod requests and what a node offers, in integer units.

CPU in millicores, memory in bytes, pods as a count, and extended resources by their full Kubernetes name
(`nvidia.com/gpu`, `nvidia.com/gpu.shared`, `nvidia.com/mig-1g.10gb`, `amd.com/gpu`, `aws.amazon.com/neuron`...)
as whole units. Nothing here guesses that an unknown resource is a GPU: `gpu_resources()` knows the names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from luna_autoscaler.errors import QuantityError
from luna_autoscaler.models.quantity import cpu_millis, integer_units, whole_units

CPU = "cpu"
MEMORY = "memory"
PODS = "pods"
EPHEMERAL_STORAGE = "ephemeral-storage"
NVIDIA_GPU = "nvidia.com/gpu"
NVIDIA_GPU_SHARED = "nvidia.com/gpu.shared"
NVIDIA_MIG_PREFIX = "nvidia.com/mig-"
AMD_GPU = "amd.com/gpu"
NEURON_PREFIX = "aws.amazon.com/neuron"
QUALCOMM_AI100 = "qualcomm.com/qaic"

_EMPTY: Mapping[str, int] = MappingProxyType({})


def is_gpu_resource(name: str) -> bool:
    """True for the resource names that denote (a share of) a GPU or an ML accelerator device."""
    return (
        name in (NVIDIA_GPU, NVIDIA_GPU_SHARED, AMD_GPU, QUALCOMM_AI100)
        or name.startswith(NVIDIA_MIG_PREFIX)
        or name.startswith(NEURON_PREFIX)
    )


@dataclass(frozen=True, slots=True)
class Resources:
    """An immutable resource vector. `extended` holds only non-zero entries, so equal vectors compare equal."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    pods: int = 0
    ephemeral_storage_bytes: int = 0
    extended: Mapping[str, int] = field(default_factory=lambda: _EMPTY)

    def __hash__(self) -> int:
        return hash(
            (self.cpu_millis, self.memory_bytes, self.pods, self.ephemeral_storage_bytes, tuple(self.extended.items()))
        )

    def __reduce__(self) -> tuple[object, ...]:
        """Picklable (a simulation's catalog crosses processes), though `extended` is a read-only mapping."""
        return (
            Resources.of,
            (self.cpu_millis, self.memory_bytes, self.pods, self.ephemeral_storage_bytes, dict(self.extended)),
        )

    @staticmethod
    def of(
        cpu_millis: int = 0,
        memory_bytes: int = 0,
        pods: int = 0,
        ephemeral_storage_bytes: int = 0,
        extended: Mapping[str, int] | None = None,
    ) -> Resources:
        cleaned = {k: v for k, v in (extended or {}).items() if v}
        return Resources(
            cpu_millis,
            memory_bytes,
            pods,
            ephemeral_storage_bytes,
            MappingProxyType(dict(sorted(cleaned.items()))) if cleaned else _EMPTY,
        )

    @staticmethod
    def parse(quantities: Mapping[str, object] | None, *, where: str = "") -> Resources:
        """Parse a Kubernetes ResourceList (`{"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": 1}`)."""
        cpu = memory = pods = storage = 0
        extended: dict[str, int] = {}
        prefix = f"{where}: " if where else ""
        for name, value in (quantities or {}).items():
            try:
                if name == CPU:
                    cpu = cpu_millis(value)
                elif name == MEMORY:
                    memory = whole_units(value)
                elif name == PODS:
                    pods = whole_units(value)
                elif name == EPHEMERAL_STORAGE:
                    storage = whole_units(value)
                elif name.startswith("hugepages-"):
                    extended[name] = whole_units(value)
                else:
                    extended[name] = integer_units(value, resource=name)
            except QuantityError as e:
                detail = str(e) if str(e).startswith(f"{name}:") else f"{name}: {e}"
                raise QuantityError(f"{prefix}{detail}") from e
        return Resources.of(cpu, memory, pods, storage, extended)

    def get(self, name: str) -> int:
        if name == CPU:
            return self.cpu_millis
        if name == MEMORY:
            return self.memory_bytes
        if name == PODS:
            return self.pods
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage_bytes
        return self.extended.get(name, 0)

    def names(self) -> Iterable[str]:
        """Names of the non-zero entries."""
        for name, value in (
            (CPU, self.cpu_millis),
            (MEMORY, self.memory_bytes),
            (PODS, self.pods),
            (EPHEMERAL_STORAGE, self.ephemeral_storage_bytes),
        ):
            if value:
                yield name
        yield from self.extended

    def __add__(self, other: Resources) -> Resources:
        merged = dict(self.extended)
        for k, v in other.extended.items():
            merged[k] = merged.get(k, 0) + v
        return Resources.of(
            self.cpu_millis + other.cpu_millis,
            self.memory_bytes + other.memory_bytes,
            self.pods + other.pods,
            self.ephemeral_storage_bytes + other.ephemeral_storage_bytes,
            merged,
        )

    def __sub__(self, other: Resources) -> Resources:
        """Difference, which may go negative (a node over-committed by its overhead shows as negative)."""
        merged = dict(self.extended)
        for k, v in other.extended.items():
            merged[k] = merged.get(k, 0) - v
        return Resources.of(
            self.cpu_millis - other.cpu_millis,
            self.memory_bytes - other.memory_bytes,
            self.pods - other.pods,
            self.ephemeral_storage_bytes - other.ephemeral_storage_bytes,
            merged,
        )

    def __mul__(self, n: int) -> Resources:
        """n of these (a workload's replicas together)."""
        return Resources.of(
            self.cpu_millis * n,
            self.memory_bytes * n,
            self.pods * n,
            self.ephemeral_storage_bytes * n,
            {k: v * n for k, v in self.extended.items()},
        )

    def maximum(self, other: Resources) -> Resources:
        """Element-wise max: how init containers combine with the main containers."""
        keys = set(self.extended) | set(other.extended)
        return Resources.of(
            max(self.cpu_millis, other.cpu_millis),
            max(self.memory_bytes, other.memory_bytes),
            max(self.pods, other.pods),
            max(self.ephemeral_storage_bytes, other.ephemeral_storage_bytes),
            {k: max(self.extended.get(k, 0), other.extended.get(k, 0)) for k in keys},
        )

    def fits_in(self, capacity: Resources) -> bool:
        """Every requested entry is within capacity (a resource the capacity lacks counts as zero)."""
        if (
            self.cpu_millis > capacity.cpu_millis
            or self.memory_bytes > capacity.memory_bytes
            or self.pods > capacity.pods
            or self.ephemeral_storage_bytes > capacity.ephemeral_storage_bytes
        ):
            return False
        return all(v <= capacity.extended.get(k, 0) for k, v in self.extended.items())

    def shortfall(self, capacity: Resources) -> tuple[str, ...]:
        """Names of the resources that do not fit, for reasons people can read."""
        return tuple(name for name in self.names() if self.get(name) > capacity.get(name))

    def gpus(self) -> int:
        """Total accelerator devices or shares requested, over every GPU-like resource name."""
        return sum(v for k, v in self.extended.items() if is_gpu_resource(k))

    def gpu_resources(self) -> Mapping[str, int]:
        return {k: v for k, v in self.extended.items() if is_gpu_resource(k)}

    def as_quantities(self) -> dict[str, str]:
        """Kubernetes form, for JSON output and manifests."""
        out: dict[str, str] = {}
        if self.cpu_millis:
            out[CPU] = f"{self.cpu_millis}m" if self.cpu_millis % 1000 else str(self.cpu_millis // 1000)
        if self.memory_bytes:
            out[MEMORY] = (
                f"{self.memory_bytes // 2**20}Mi" if self.memory_bytes % 2**20 == 0 else str(self.memory_bytes)
            )
        if self.ephemeral_storage_bytes:
            out[EPHEMERAL_STORAGE] = str(self.ephemeral_storage_bytes)
        if self.pods:
            out[PODS] = str(self.pods)
        for k, v in self.extended.items():
            out[k] = str(v)
        return out


ZERO = Resources()
