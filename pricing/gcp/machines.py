"""What GKE is asked for, given a catalog instance type: the GCE machine type and the accelerators to attach.

The bundled catalog names an N1 machine with attached GPUs by one name, `<machine type>_<gpu>x<count>`
(`n1-standard-4_t4x1`), because on GCE the GPUs of N1 are a separate purchase; A2, A3 and G2 machine types come
with their GPUs, which GKE still wants named (with the driver to install) in the node pool's accelerator config.
The GPU model (our SKU vocabulary) maps to GKE's accelerator type, which is also the value of the node label
`cloud.google.com/gke-accelerator` that GKE puts on such nodes. Pricing (SKUs per series and GPU) and the
provider (node pool specs) both read it, so it lives here, below both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from luna_autoscaler.models.catalog import InstanceType

GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
GKE_SPOT_LABEL = "cloud.google.com/gke-spot"
GKE_SHARING_STRATEGY_LABEL = "cloud.google.com/gke-gpu-sharing-strategy"
GKE_MAX_SHARED_CLIENTS_LABEL = "cloud.google.com/gke-max-shared-clients-per-gpu"
GKE_NODEPOOL_LABEL = "cloud.google.com/gke-nodepool"

# Our GPU SKU → GKE accelerator type (https://cloud.google.com/compute/docs/gpus).
_GKE_ACCELERATORS = {
    "T4": "nvidia-tesla-t4",
    "P4": "nvidia-tesla-p4",
    "P100": "nvidia-tesla-p100",
    "V100": "nvidia-tesla-v100",
    "V100-16GB": "nvidia-tesla-v100",
    "K80": "nvidia-tesla-k80",
    "L4": "nvidia-l4",
    "A100-40GB": "nvidia-tesla-a100",
    "A100-80GB": "nvidia-a100-80gb",
    "H100": "nvidia-h100-80gb",
    "H200": "nvidia-h200-141gb",
    "B200": "nvidia-b200",
}
# Machine types whose H100s are the "Mega" variant, named apart by GKE.
_MEGA_PREFIX = "a3-megagpu-"
_ATTACHED = re.compile(r"^(?P<machine>[a-z0-9]+-[a-z0-9-]+?)_(?P<gpu>[a-z0-9]+)x(?P<count>[1-9][0-9]?)$")


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """The GCE machine type and the accelerators (GKE type, count; count 0: none) of a catalog instance type."""

    machine_type: str
    accelerator_type: str = ""
    accelerator_count: int = 0


def gke_accelerator(it: InstanceType) -> str:
    """GKE's accelerator type for the GPUs of `it` ("" when it has none GKE can attach)."""
    acc = it.accelerator
    if acc is None or acc.manufacturer != "NVIDIA":
        return ""
    if acc.sku == "H100" and it.name.startswith(_MEGA_PREFIX):
        return "nvidia-h100-mega-80gb"
    return _GKE_ACCELERATORS.get(acc.sku, "")


def machine_spec(it: InstanceType) -> MachineSpec:
    """The machine type and accelerator config GKE needs for a catalog type (`n1-standard-4_t4x1` → n1-standard-4
    with one nvidia-tesla-t4; `g2-standard-8` → itself with its one nvidia-l4)."""
    attached = _ATTACHED.match(it.name)
    machine = attached["machine"] if attached else it.name
    accelerator = gke_accelerator(it)
    if not accelerator or it.accelerator is None:
        return MachineSpec(machine)
    return MachineSpec(machine, accelerator, it.accelerator.count)
