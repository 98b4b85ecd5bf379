"""The labels and taints a self-registering kubelet is started with (`--node-labels`, `--register-with-taints`).

Providers that bootstrap the node themselves (EKS with nodeadm, OKE self-managed nodes) hand the planner's labels
and taints to the kubelet, so a node is born with them and no pod lands on it before they are set. What the
kubelet accepts is the same on every cloud, so it is decided here once:

- Labels the kubelet or the cloud controller set by themselves (hostname, OS, arch, instance type, zone, region)
  are left out: the real values win and equal configurations give equal user data across types and zones.
- A label in the kubernetes.io / k8s.io namespaces outside the kubelet's own (`kubelet.kubernetes.io`,
  `node.kubernetes.io`, and their subdomains) is refused by the NodeRestriction admission plugin and the kubelet
  then never registers: such labels are dropped and named, so the caller can warn instead of producing a node
  that never joins.
- An invalid key, value or taint is a configuration error (it would fail the kubelet's flag parsing at boot,
  long after the launch call "succeeded").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from luna_autoscaler.errors import ProviderConfigurationError
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.scheduling import Effect, Taint

SET_BY_KUBELET_OR_CLOUD = frozenset(
    {
        lbl.HOSTNAME,
        lbl.OS,
        lbl.ARCH,
        lbl.ARCH_BETA,
        "beta.kubernetes.io/os",
        lbl.INSTANCE_TYPE,
        lbl.INSTANCE_TYPE_BETA,
        lbl.ZONE,
        lbl.ZONE_BETA,
        lbl.REGION,
        lbl.REGION_BETA,
    }
)
_RESTRICTED_NAMESPACES = ("kubernetes.io", "k8s.io")
_KUBELET_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")

_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True, slots=True)
class KubeletLabels:
    """The labels to register with (sorted by key, so equal inputs give equal user data) and those dropped."""

    labels: Mapping[str, str]
    dropped: tuple[str, ...]

    def flag_value(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.labels.items())


def _valid_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_NAME.fullmatch(name))


def _valid_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and bool(_NAME.fullmatch(value)))


def _in(prefix: str, namespaces: Iterable[str]) -> bool:
    return any(prefix == ns or prefix.endswith("." + ns) for ns in namespaces)


def restricted(key: str) -> bool:
    """A kubernetes.io / k8s.io label the kubelet may not set on itself (NodeRestriction)."""
    prefix = key.rpartition("/")[0]
    return _in(prefix, _RESTRICTED_NAMESPACES) and not _in(prefix, _KUBELET_NAMESPACES)


def kubelet_labels(labels: Mapping[str, str], leave_out: frozenset[str] = frozenset()) -> KubeletLabels:
    """The labels for `--node-labels`: checked, without those the kubelet/cloud set or `leave_out` names."""
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for key, value in sorted(labels.items()):
        if key in SET_BY_KUBELET_OR_CLOUD or key in leave_out:
            continue
        if not _valid_key(key) or not _valid_value(value):
            raise ProviderConfigurationError(f"node label {key}={value!r} is not a valid Kubernetes label")
        if restricted(key):
            dropped.append(key)
            continue
        kept[key] = value
    return KubeletLabels(kept, tuple(dropped))


def taint_flags(taints: Iterable[Taint]) -> tuple[str, ...]:
    """The `--register-with-taints` entries, checked, sorted and without repeats."""
    flags = set()
    for taint in taints:
        if not _valid_key(taint.key) or not _valid_value(taint.value) or taint.effect not in set(Effect):
            raise ProviderConfigurationError(f"node taint {taint} is not a valid Kubernetes taint")
        flags.add(str(taint))
    return tuple(sorted(flags))
