"""Which machine image a node boots: the EKS-optimised Amazon Linux 2023 AMI for the cluster's version.

AWS publishes the current AMI id of each variant as a public SSM parameter
(`/aws/service/eks/optimized-ami/<version>/amazon-linux-2023/<arch>/<variant>/recommended/image_id`). The variant
follows the instance type: `nvidia` (drivers, container toolkit) for NVIDIA GPUs, `neuron` for Inferentia and
Trainium, `standard` otherwise; `arm64` for Graviton. `aws.amiId` pins one image for every node instead.
A resolved id is kept for `IMAGE_TTL_SECONDS`: a new AMI then reaches new nodes within the hour (the launch template
name is a hash of its content, so a new image means a new template, never a changed one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from luna_autoscaler.models.catalog import Arch, InstanceType
from luna_autoscaler.models.resources import NVIDIA_GPU
from luna_autoscaler.ports import Clock
from providers.aws.classify import classified
from providers.aws.clients import AwsClient

IMAGE_TTL_SECONDS = 3600.0


def image_variant(it: InstanceType) -> str:
    acc = it.accelerator
    if acc is None:
        return "standard"
    if acc.kind == "neuron":
        return "neuron"
    if acc.resource_name == NVIDIA_GPU or acc.manufacturer.upper() == "NVIDIA":
        return "nvidia"
    return "standard"


def image_parameter(kubernetes_version: str, it: InstanceType) -> str:
    arch = "arm64" if it.arch is Arch.ARM64 else "x86_64"
    return (
        f"/aws/service/eks/optimized-ami/{kubernetes_version}/amazon-linux-2023/{arch}/{image_variant(it)}"
        "/recommended/image_id"
    )


@dataclass(frozen=True, slots=True)
class _Resolved:
    image_id: str
    at: datetime


class Images:
    """Resolves and caches image ids (one SSM GetParameter per variant per hour)."""

    def __init__(self, ssm: AwsClient, clock: Clock, *, pinned_image_id: str = "") -> None:
        self._ssm = ssm
        self._clock = clock
        self._pinned = pinned_image_id
        self._cache: dict[str, _Resolved] = {}

    def image_for(self, kubernetes_version: str, it: InstanceType) -> str:
        if self._pinned:
            return self._pinned
        name = image_parameter(kubernetes_version, it)
        now = self._clock()
        cached = self._cache.get(name)
        if cached is not None and (now - cached.at).total_seconds() < IMAGE_TTL_SECONDS:
            return cached.image_id
        with classified(f"ssm:GetParameter {name}"):
            answer = self._ssm.get_parameter(Name=name)
        image_id = str(answer["Parameter"]["Value"])
        self._cache[name] = _Resolved(image_id, now)
        return image_id
