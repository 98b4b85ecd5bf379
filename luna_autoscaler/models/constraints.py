"""Luna-compatible pod annotations, parsed into constraints on offerings.

Every annotation is optional; present ones combine with AND (behaviour.md). A malformed value never raises out
of here: `parse_constraints` returns the problems, each naming the annotation, the value and why, and the caller
skips that pod (reporting `InvalidAnnotation`) while every other pod goes on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from luna_autoscaler.errors import shown
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.gpu_sku import known_skus, requested_skus
from luna_autoscaler.models.type_pattern import TypePattern, type_pattern

PREFIX = "node.elotl.co/"
INSTANCE_TYPE_REGEXP = PREFIX + "instance-type-regexp"
FAMILY_INCLUSIONS = PREFIX + "instance-family-inclusions"
FAMILY_EXCLUSIONS = PREFIX + "instance-family-exclusions"
GPU_SKUS = PREFIX + "instance-gpu-skus"
OFFERINGS = PREFIX + "instance-offerings"
MAX_COST = PREFIX + "instance-max-cost"
MAX_GPUS = PREFIX + "instance-max-gpus"

ANNOTATIONS = (INSTANCE_TYPE_REGEXP, FAMILY_INCLUSIONS, FAMILY_EXCLUSIONS, GPU_SKUS, OFFERINGS, MAX_COST, MAX_GPUS)


@dataclass(frozen=True, slots=True)
class AnnotationProblem:
    annotation: str
    value: str
    why: str

    def __str__(self) -> str:
        return f"annotation {self.annotation}={shown(self.value, 80)}: {self.why}"


@dataclass(frozen=True, slots=True)
class PodConstraints:
    """What a pod's annotations allow. None means "no constraint from annotations"."""

    instance_type_regexp: TypePattern | None = None
    family_inclusions: frozenset[str] | None = None
    family_exclusions: frozenset[str] = frozenset()
    gpu_skus: frozenset[str] | None = None  # canonical SKUs (see gpu_sku.requested_skus)
    offerings: tuple[CapacityType, ...] | None = None  # in order of preference
    max_cost_usd_per_hour: float | None = None
    max_gpus: int | None = None

    @property
    def any(self) -> bool:
        """True when the pod carries instance annotations, which makes it bin-selected (behaviour.md)."""
        return self != NO_CONSTRAINTS


NO_CONSTRAINTS = PodConstraints()


# ASCII digits only (Python's int() and float() also take "١٢", "1_000" and "inf"), and few enough of them.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,9}(?:\.[0-9]{0,9})?|\.[0-9]{1,9})")
_COUNT = re.compile(r"[+-]?[0-9]{1,6}")


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_offerings(value: str, *, what: str) -> tuple[CapacityType, ...]:
    """`spot`, `on-demand`, `spot,on-demand` (order = preference). Raises ValueError saying why, prefixed with
    `what` unless it is empty (a caller whose errors are already located, such as a config field)."""
    where = f"{what}: " if what else ""
    items = _csv(value.lower())
    if not items:
        raise ValueError(f"{where}empty (expected spot, on-demand or spot,on-demand)")
    out: list[CapacityType] = []
    for item in items:
        normalised = {"ondemand": "on-demand", "on_demand": "on-demand"}.get(item, item)
        try:
            ct = CapacityType(normalised)
        except ValueError:
            raise ValueError(f"{where}unknown offering {item!r} (expected spot or on-demand)") from None
        if ct in out:
            raise ValueError(f"{where}{item!r} is listed twice")
        out.append(ct)
    return tuple(out)


def parse_constraints(annotations: Mapping[str, str]) -> tuple[PodConstraints, tuple[AnnotationProblem, ...]]:
    """Parse the node.elotl.co/* annotations; return the constraints and every problem found."""
    problems: list[AnnotationProblem] = []
    fields: dict[str, object] = {}

    def problem(name: str, why: str) -> None:
        problems.append(AnnotationProblem(name, annotations.get(name, ""), why))

    if (raw := annotations.get(INSTANCE_TYPE_REGEXP)) is not None:
        if not raw.strip():
            problem(INSTANCE_TYPE_REGEXP, "empty regular expression")
        else:
            try:
                fields["instance_type_regexp"] = type_pattern(raw.strip())
            except ValueError as e:
                problem(INSTANCE_TYPE_REGEXP, str(e))

    for name, key in ((FAMILY_INCLUSIONS, "family_inclusions"), (FAMILY_EXCLUSIONS, "family_exclusions")):
        if (raw := annotations.get(name)) is not None:
            families = _csv(raw)
            if not families:
                problem(name, "empty list (expected comma-separated instance families, e.g. g5,g6)")
            else:
                fields[key] = frozenset(f.lower() for f in families)

    if (raw := annotations.get(GPU_SKUS)) is not None:
        skus: set[str] = set()
        unknown = []
        for item in _csv(raw):
            matched = requested_skus(item)
            if matched:
                skus |= matched
            else:
                unknown.append(item)
        if unknown:
            problem(GPU_SKUS, f"unknown GPU SKU {', '.join(unknown)} (known: {', '.join(known_skus())})")
        elif not skus:
            problem(GPU_SKUS, "empty list (expected GPU SKUs, e.g. T4,L4,A10G)")
        else:
            fields["gpu_skus"] = frozenset(skus)

    if (raw := annotations.get(OFFERINGS)) is not None:
        try:
            fields["offerings"] = parse_offerings(raw, what="value")
        except ValueError as e:
            problem(OFFERINGS, str(e).removeprefix("value: "))

    if (raw := annotations.get(MAX_COST)) is not None:
        text = raw.strip().removeprefix("$")
        if not _DECIMAL.fullmatch(text):
            problem(MAX_COST, "not a number (expected USD per hour, e.g. 4.75)")
        elif (cost := float(text)) <= 0:
            problem(MAX_COST, "must be a positive number of USD per hour")
        else:
            fields["max_cost_usd_per_hour"] = cost

    if (raw := annotations.get(MAX_GPUS)) is not None:
        text = raw.strip()
        if not _COUNT.fullmatch(text):
            problem(MAX_GPUS, "not a whole number (expected a GPU count, e.g. 2)")
        elif (gpus := int(text)) < 0:
            problem(MAX_GPUS, "must not be negative")
        else:
            fields["max_gpus"] = gpus

    for name in annotations:
        if name.startswith(PREFIX + "instance-") and name not in ANNOTATIONS:
            problem(name, f"unknown annotation (known: {', '.join(a.removeprefix(PREFIX) for a in ANNOTATIONS)})")

    return PodConstraints(**fields), tuple(problems)  # type: ignore[arg-type]
