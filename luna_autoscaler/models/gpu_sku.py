"""One GPU SKU vocabulary across clouds.

Clouds and users name the same chip differently: AWS says `A10G`, Azure and OCI `A10`; GCP says `A100` for the
40 GB part and `A100-80GB` for the other, while AWS says `A100` for both (p4d 40 GB, p4de 80 GB); GKE labels say
`nvidia-tesla-t4`; the Alibaba trace says `V100M16`. Catalog rows are normalised to one canonical SKU (with the
memory per device where a chip comes in several sizes), and annotation values are matched case-insensitively,
where a general name selects every variant: `A100` accepts `A100-40GB` and `A100-80GB`, `V100` accepts both V100
sizes, `A10` accepts the A10 and AWS's A10G (the same GA102 chip), while `A10G` accepts only the A10G.
"""

from __future__ import annotations

import re

# Canonical SKUs, each with the general names that also select it.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "A100-40GB": ("A100",),
    "A100-80GB": ("A100",),
    "V100-16GB": ("V100",),
    "V100-32GB": ("V100",),
    "A10G": ("A10",),
    "A10": (),
    "H100": (),
    "H200": (),
    "B200": (),
    "B300": (),
    "GB200": (),
    "GB300": (),
    "L4": (),
    "L40S": (),
    "T4": (),
    "T4G": (),
    "P100": (),
    "P4": (),
    "K80": (),
    "K520": (),
    "M60": (),
    "MI25": (),
    "MI300X": (),
    "MI355X": (),
    "RADEON-PRO-V520": (),
    "RTX-PRO-6000": (),
    "RTX-PRO-4500": (),
    "INFERENTIA": (),
    "INFERENTIA2": (),
    "TRAINIUM": (),
    "TRAINIUM2": (),
    "QUALCOMM-AI100": (),
}

# Spellings seen in catalogs, GKE accelerator labels and traces → canonical or general name.
_ALIASES: dict[str, str] = {
    "A100-80G": "A100-80GB",
    "A100-40G": "A100-40GB",
    "NVIDIA-TESLA-A100": "A100-40GB",
    "NVIDIA-A100-80GB": "A100-80GB",
    "NVIDIA-H100-80GB": "H100",
    "NVIDIA-H100-MEGA-80GB": "H100",
    "H100-MEGA": "H100",
    "NVIDIA-H200-141GB": "H200",
    "NVIDIA-B200": "B200",
    "NVIDIA-L4": "L4",
    "NVIDIA-TESLA-T4": "T4",
    "NVIDIA-TESLA-V100": "V100-16GB",
    "NVIDIA-TESLA-P100": "P100",
    "NVIDIA-TESLA-P4": "P4",
    "NVIDIA-TESLA-K80": "K80",
    "V100M16": "V100-16GB",
    "V100M32": "V100-32GB",
    "V100-32G": "V100-32GB",
    "V100-16G": "V100-16GB",
    "AMD-RADEON-PRO-V520": "RADEON-PRO-V520",
    "RTX-PRO-SERVER-6000": "RTX-PRO-6000",
    "RTXPRO6000": "RTX-PRO-6000",
    "AWS-INFERENTIA": "INFERENTIA",
    "AWS-INFERENTIA2": "INFERENTIA2",
    "AWS-TRAINIUM": "TRAINIUM",
    "AWS-TRAINIUM2": "TRAINIUM2",
    "QUALCOMM-AI-100-ACCELERATORS": "QUALCOMM-AI100",
    "QUALCOMM-AI100": "QUALCOMM-AI100",
}


def _spelling(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().upper())


def canonical_sku(name: str, memory_mib_per_device: int = 0) -> str:
    """Normalise a catalog's accelerator name; the memory size splits A100 and V100 into their variants.

    Unknown names are kept (upper-cased, spaces as dashes) so new hardware still plans, just without aliases.
    """
    spelled = _ALIASES.get(_spelling(name), _spelling(name))
    if spelled == "A100":
        return "A100-80GB" if memory_mib_per_device >= 60_000 else "A100-40GB"
    if spelled == "V100":
        return "V100-32GB" if memory_mib_per_device >= 24_000 else "V100-16GB"
    return spelled


def requested_skus(value: str) -> frozenset[str]:
    """The canonical SKUs one annotation entry selects (`a100` → both A100 sizes). Empty if unknown."""
    spelled = _ALIASES.get(_spelling(value), _spelling(value))
    return frozenset(sku for sku, general in _FAMILIES.items() if spelled == sku or spelled in general)


def known_skus() -> tuple[str, ...]:
    return tuple(sorted(_FAMILIES))
