"""Launch requests as the reconcile loop builds them, for offerings of the GCP catalog."""

from __future__ import annotations

from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import TAG_NODE_POOL, LaunchRequest
from tests.gcp.world import CLUSTER


def offering(catalog: Catalog, name: str, capacity: CapacityType = CapacityType.ON_DEMAND, zone: str = "") -> Offering:
    return next(o for o in catalog if o.name == name and o.capacity_type is capacity and (not zone or o.zone == zone))


def request(
    launch_id: str,
    *offerings: Offering,
    gpu_mode: GpuMode | None = None,
    taints: tuple[Taint, ...] = (),
    cluster: str = CLUSTER,
) -> LaunchRequest:
    mode = gpu_mode or GpuMode()
    labels = {
        **offerings[0].labels(mode),  # with GKE's time-sharing labels for a sliced mode, as the loop asks
        **mode.node_labels(),
        "team": "ml",
        lbl.LAUNCH_ID: launch_id,
        lbl.BIN_KIND: "pack",
    }
    return LaunchRequest(
        launch_id=launch_id,
        cluster_name=cluster,
        offerings=offerings,
        labels=labels,
        taints=taints,
        tags={TAG_NODE_POOL: "pack", "cost-center": "research"},
        gpu_mode=mode,
    )
