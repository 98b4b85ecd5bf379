"""The scheduling vocabulary that constrains where a pod may run: labels, taints, tolerations, node selectors.

The semantics are kube-scheduler's (NodeAffinity and TaintToleration plugins), evaluated here against the
labels and taints a node *would* carry if we launched it, so that a plan never buys a node the scheduler will
then refuse to use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

# Well-known node labels (kubernetes.io, Karpenter and Luna names) that offerings carry.
INSTANCE_TYPE = "node.kubernetes.io/instance-type"
INSTANCE_TYPE_BETA = "beta.kubernetes.io/instance-type"
ARCH = "kubernetes.io/arch"
ARCH_BETA = "beta.kubernetes.io/arch"
OS = "kubernetes.io/os"
ZONE = "topology.kubernetes.io/zone"
ZONE_BETA = "failure-domain.beta.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
REGION_BETA = "failure-domain.beta.kubernetes.io/region"
CAPACITY_TYPE = "karpenter.sh/capacity-type"
HOSTNAME = "kubernetes.io/hostname"
# Labels this product puts on the nodes it launches.
MANAGED_BY = "node.elotl.co/managed-by"
MANAGED_BY_VALUE = "luna-autoscaler"
NODE_CAPACITY_TYPE = "node.elotl.co/capacity-type"
INSTANCE_FAMILY = "node.elotl.co/instance-family"
GPU_SKU = "node.elotl.co/gpu-sku"
GPU_COUNT = "node.elotl.co/gpu-count"
GPU_PRODUCT = "nvidia.com/gpu.product"
GPU_PRESENT = "nvidia.com/gpu.present"
BIN_KIND = "node.elotl.co/bin"  # "pack" or "select": which scale-down threshold applies
LAUNCH_ID = "node.elotl.co/launch-id"


class Effect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str = ""
    effect: str = Effect.NO_SCHEDULE

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"  # Equal | Exists
    value: str = ""
    effect: str = ""  # empty matches every effect

    def tolerates(self, taint: Taint) -> bool:
        """kube-scheduler's rule (k8s.io/api/core/v1 Toleration.ToleratesTaint)."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        # An empty key with operator Equal is invalid in the API; treat it as matching nothing.
        return bool(self.key) and self.value == taint.value


def tolerates_all(tolerations: tuple[Toleration, ...], taints: tuple[Taint, ...]) -> Taint | None:
    """The first taint that blocks scheduling (NoSchedule/NoExecute) and is not tolerated, else None."""
    for taint in taints:
        if taint.effect == Effect.PREFER_NO_SCHEDULE:
            continue
        if not any(t.tolerates(taint) for t in tolerations):
            return taint
    return None


class Operator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    GT = "Gt"
    LT = "Lt"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One NodeSelectorRequirement (or a nodeSelector entry as `key In [value]`)."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        match self.operator:
            case Operator.IN:
                return present and value in self.values
            case Operator.NOT_IN:
                return not present or value not in self.values
            case Operator.EXISTS:
                return present
            case Operator.DOES_NOT_EXIST:
                return not present
            case Operator.GT | Operator.LT:
                if not present or len(self.values) != 1:
                    return False
                try:
                    left, right = int(value), int(self.values[0])
                except ValueError:
                    return False
                return left > right if self.operator is Operator.GT else left < right
        return False  # pragma: no cover - exhaustive over Operator

    def __str__(self) -> str:
        if self.operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            return f"{self.key} {self.operator}"
        return f"{self.key} {self.operator} [{','.join(self.values)}]"


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """Requirements combined with AND."""

    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


@dataclass(frozen=True, slots=True)
class NodeSelector:
    """A pod's node constraints: nodeSelector (AND) and required node affinity terms (OR of ANDs).

    An empty `terms` tuple means no affinity constraint. A term list whose terms are all empty matches nothing,
    as in the API, but that is normalised away when parsing.
    """

    selector: tuple[Requirement, ...] = ()
    terms: tuple[NodeSelectorTerm, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if not all(r.matches(labels) for r in self.selector):
            return False
        return not self.terms or any(t.matches(labels) for t in self.terms)

    def __str__(self) -> str:
        parts = [str(r) for r in self.selector]
        if self.terms:
            parts.append(" OR ".join("(" + ", ".join(str(r) for r in t.requirements) + ")" for t in self.terms))
        return ", ".join(parts)


def node_admits(
    selector: NodeSelector, tolerations: tuple[Toleration, ...], labels: Mapping[str, str], taints: tuple[Taint, ...]
) -> bool:
    """What kube-scheduler checks of a node apart from resources: its labels match the pod's node selector and
    required affinity, and the pod tolerates its NoSchedule/NoExecute taints."""
    return selector.matches(labels) and tolerates_all(tolerations, taints) is None
