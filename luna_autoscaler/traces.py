"""The Alibaba GPU-sharing trace (ATC'23 "Beware of Fragmentation", cluster-trace-gpu-v2023) as Pod manifests.

Examples, benchmarks and the default simulation all run real pods from a production GPU cluster. Each trace row
becomes an ordinary Pod manifest so that the same code path as a live cluster is exercised (manifest → Pod →
planner). The mapping (see /work/shared/workloads/README.md for the columns):

- `cpu_milli`, `memory_mib` → container requests in millicores and MiB.
- `num_gpu` with `gpu_milli` = 1000 → `nvidia.com/gpu: num_gpu` (whole GPUs).
- `gpu_milli` < 1000 (always one GPU) → `nvidia.com/gpu.shared: 1`: one replica of a time-sliced GPU, as the
  NVIDIA device plugin exposes it with `renameByDefault`. The share itself is kept in the annotation
  `trace.elotl.co/gpu-milli` for reports; the scheduler cannot enforce it, nor can time-slicing.
- `gpu_spec` (`V100M16|V100M32`) → `node.elotl.co/instance-gpu-skus` with our SKU names. The trace's G2 and G3
  are unnamed Alibaba generations with no cloud equivalent: they are dropped from the list, and a row whose
  models are all unnamed gets no SKU constraint (any GPU).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luna_autoscaler.models.constraints import GPU_SKUS
from luna_autoscaler.models.gpu_sku import requested_skus

GPU_MILLI_ANNOTATION = "trace.elotl.co/gpu-milli"
SELECTOR_LABEL = ("elotl-luna", "true")


@dataclass(frozen=True, slots=True)
class TraceRow:
    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int
    gpu_spec: tuple[str, ...] = ()
    creation_time: int | None = None  # seconds from the trace's start
    deletion_time: int | None = None
    scheduled_time: int | None = None


def _int(value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    return int(float(value))


def parse_rows(lines: Iterable[str]) -> list[TraceRow]:
    rows = []
    for record in csv.DictReader(lines):
        num_gpu = _int(record.get("num_gpu")) or 0
        gpu_milli = _int(record.get("gpu_milli"))
        rows.append(
            TraceRow(
                name=record["name"],
                cpu_milli=_int(record.get("cpu_milli")) or 0,
                memory_mib=_int(record.get("memory_mib")) or 0,
                num_gpu=num_gpu,
                gpu_milli=(1000 if num_gpu else 0) if gpu_milli is None else gpu_milli,
                gpu_spec=tuple(s for s in (record.get("gpu_spec") or "").split("|") if s),
                creation_time=_int(record.get("creation_time")),
                deletion_time=_int(record.get("deletion_time")),
                scheduled_time=_int(record.get("scheduled_time")),
            )
        )
    return rows


def read_trace(path: str | Path) -> list[TraceRow]:
    with open(path, newline="") as f:
        return parse_rows(f)


def gpu_skus_of(spec: tuple[str, ...]) -> tuple[str, ...]:
    """Trace GPU models → our SKU names; unnamed models (G2, G3) dropped."""
    return tuple(m for m in spec if requested_skus(m))


def pod_manifest(row: TraceRow, *, namespace: str = "alibaba") -> dict[str, Any]:
    """A pending Pod manifest for one trace row (status PodScheduled=False/Unschedulable)."""
    requests: dict[str, str] = {
        "cpu": f"{max(row.cpu_milli, 1)}m",
        "memory": f"{max(row.memory_mib, 1)}Mi",
    }
    annotations: dict[str, str] = {}
    if row.num_gpu and row.gpu_milli >= 1000:
        requests["nvidia.com/gpu"] = str(row.num_gpu * math.ceil(row.gpu_milli / 1000))
    elif row.num_gpu:
        requests["nvidia.com/gpu.shared"] = "1"
        annotations[GPU_MILLI_ANNOTATION] = str(row.gpu_milli)
    skus = gpu_skus_of(row.gpu_spec) if row.num_gpu else ()
    if skus:
        annotations[GPU_SKUS] = ",".join(skus)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": row.name,
            "namespace": namespace,
            "labels": {SELECTOR_LABEL[0]: SELECTOR_LABEL[1], "app": "alibaba-trace"},
            "annotations": annotations,
        },
        "spec": {
            "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.9", "resources": {"requests": requests}}]
        },
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
        },
    }
