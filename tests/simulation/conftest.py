"""A small world for simulation tests: a hand-made AWS-like catalog (fast to plan on) and scenario files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from luna_autoscaler.models.catalog import Accelerator, CapacityType, Catalog, InstanceType, Offering, PriceProvenance
from luna_autoscaler.ports import Clock, NodeProvider
from luna_autoscaler.simulation.engine import ProviderMaker
from providers.fake import FakeProvider

PROVENANCE = PriceProvenance("test catalog", date(2025, 6, 1))
TYPES = (
    InstanceType("aws", "m6i.large", "m6i", 2, 8192, max_pods=29),
    InstanceType("aws", "m6i.2xlarge", "m6i", 8, 32768, max_pods=58),
    InstanceType("aws", "m6i.4xlarge", "m6i", 16, 65536, max_pods=234),
    InstanceType("aws", "g4dn.xlarge", "g4dn", 4, 16384, accelerator=Accelerator("T4", 1), max_pods=29),
    InstanceType("aws", "g4dn.4xlarge", "g4dn", 16, 65536, accelerator=Accelerator("T4", 1), max_pods=29),
    InstanceType("aws", "g4dn.12xlarge", "g4dn", 48, 196608, accelerator=Accelerator("T4", 4), max_pods=234),
)
ON_DEMAND = {
    "m6i.large": 0.096,
    "m6i.2xlarge": 0.384,
    "m6i.4xlarge": 0.768,
    "g4dn.xlarge": 0.526,
    "g4dn.4xlarge": 1.204,
    "g4dn.12xlarge": 3.912,
}
SMALL_CATALOG = Catalog(
    "aws",
    "us-east-1",
    tuple(
        Offering(
            it,
            "us-east-1",
            zone,
            capacity,
            ON_DEMAND[it.name] * (0.35 if capacity is CapacityType.SPOT else 1.0),
            PROVENANCE,
            interruption_band=">20%" if capacity is CapacityType.SPOT else None,
        )
        for it in TYPES
        for zone in ("us-east-1a", "us-east-1b")
        for capacity in CapacityType
    ),
    PROVENANCE,
)

HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
)


def burst_trace() -> str:
    """Six whole-GPU pods running when the window opens (30 min left each), four shared-GPU and three CPU pods
    arriving 10 minutes in (20 min each): a scale-up at once, a second one, then everything finishes."""
    rows = [f"gpu-{i},11000,40000,1,1000,,LS,Running,0,{1000 + 1800},0" for i in range(6)]
    rows += [f"share-{i},3000,5600,1,500,,BE,Succeeded,1600,2800,1600" for i in range(4)]
    rows += [f"cpu-{i},2500,3000,0,0,,BE,Succeeded,1600,2800,1600" for i in range(3)]  # too big for the system node
    return HEADER + "\n".join(rows) + "\n"


SCENARIO = """
name: burst
description: a burst of GPU and CPU pods that all finish within the hour
hours: {hours}
seed: 3
traces:
  - file: trace.csv
    namespace: ml
    start: 1000
cloudModel:
  cpuNodeJoin: {{min: 60s, max: 90s}}
  gpuNodeJoin: {{min: 120s, max: 180s}}
  gpuDevicePluginDelay: {{min: 20s, max: 40s}}
  insufficientCapacitySpotFraction: {ice}
  insufficientCapacityOnDemandFraction: 0
  spotInterruptionRateMultiplier: {interruptions}
staticNodes:
  - name: system
    instanceType: {{aws: m6i.large, gcp: e2-standard-2}}
daemonsets:
  - apiVersion: apps/v1
    kind: DaemonSet
    metadata: {{name: kube-proxy, namespace: kube-system}}
    spec:
      template:
        spec:
          tolerations: [{{operator: Exists}}]
          containers: [{{name: proxy, resources: {{requests: {{cpu: 100m}}}}}}]
config:
  defaultOfferings: spot,on-demand
  gpuTimeSlicing:
    - gpuSkus: [T4]
      replicas: 2
      renameByDefault: true
  scaleDown:
    nodeUnneededDuration: 2m
"""


@pytest.fixture
def burst_scenario(tmp_path: Path) -> Callable[..., Path]:
    def write(hours: float = 1.0, ice: float = 0.0, interruptions: float = 1.0) -> Path:
        (tmp_path / "trace.csv").write_text(burst_trace())
        path = tmp_path / "burst.yaml"
        path.write_text(SCENARIO.format(hours=hours, ice=ice, interruptions=interruptions))
        return path

    return write


def small_provider(cluster_name: str = "simulated") -> ProviderMaker:
    def make(clock: Clock) -> NodeProvider:
        return FakeProvider(SMALL_CATALOG, clock, cluster_name=cluster_name)

    return make
