"""Every Luna annotation, valid and malformed (behaviour.md)."""

import pytest

from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.constraints import (
    FAMILY_EXCLUSIONS,
    FAMILY_INCLUSIONS,
    GPU_SKUS,
    INSTANCE_TYPE_REGEXP,
    MAX_COST,
    MAX_GPUS,
    NO_CONSTRAINTS,
    OFFERINGS,
    parse_constraints,
)


def test_no_annotations_no_constraints() -> None:
    constraints, problems = parse_constraints({"unrelated": "x"})
    assert constraints == NO_CONSTRAINTS and not constraints.any and problems == ()


def test_every_annotation_valid() -> None:
    constraints, problems = parse_constraints(
        {
            INSTANCE_TYPE_REGEXP: r"^(g5\.xlarge|n1-standard-4)$",
            FAMILY_INCLUSIONS: "g5, G6",
            FAMILY_EXCLUSIONS: "t3,t3a",
            GPU_SKUS: "t4,L4,a10g",
            OFFERINGS: "spot,on-demand",
            MAX_COST: "4.75",
            MAX_GPUS: "2",
        }
    )
    assert problems == ()
    assert constraints.any
    assert constraints.instance_type_regexp is not None and constraints.instance_type_regexp.search("g5.xlarge")
    assert not constraints.instance_type_regexp.search("g5.2xlarge")
    assert constraints.family_inclusions == frozenset({"g5", "g6"})
    assert constraints.family_exclusions == frozenset({"t3", "t3a"})
    assert constraints.gpu_skus == frozenset({"T4", "L4", "A10G"})
    assert constraints.offerings == (CapacityType.SPOT, CapacityType.ON_DEMAND)
    assert constraints.max_cost_usd_per_hour == 4.75
    assert constraints.max_gpus == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("A100", {"A100-40GB", "A100-80GB"}),
        ("a100-80gb", {"A100-80GB"}),
        ("V100", {"V100-16GB", "V100-32GB"}),
        ("A10", {"A10", "A10G"}),
        ("A10G", {"A10G"}),
        ("nvidia-tesla-t4", {"T4"}),
        ("V100M32", {"V100-32GB"}),
        ("H100,h200", {"H100", "H200"}),
    ],
)
def test_gpu_skus_are_normalised_across_clouds(value: str, expected: set[str]) -> None:
    constraints, problems = parse_constraints({GPU_SKUS: value})
    assert problems == ()
    assert constraints.gpu_skus == frozenset(expected)


@pytest.mark.parametrize(
    ("annotation", "value", "why"),
    [
        (INSTANCE_TYPE_REGEXP, "^(g5", "invalid regular expression"),
        (INSTANCE_TYPE_REGEXP, "  ", "empty regular expression"),
        (FAMILY_INCLUSIONS, ",", "empty list"),
        (FAMILY_EXCLUSIONS, "", "empty list"),
        (GPU_SKUS, "T4,Z9000", "unknown GPU SKU Z9000"),
        (GPU_SKUS, " , ", "empty list"),
        (OFFERINGS, "preemptible", "unknown offering 'preemptible'"),
        (OFFERINGS, "spot,spot", "listed twice"),
        (OFFERINGS, "", "empty"),
        (MAX_COST, "abc", "not a number"),
        (MAX_COST, "-1", "positive"),
        (MAX_COST, "inf", "not a number"),
        (MAX_COST, "١٢", "not a number"),
        (MAX_GPUS, "١", "not a whole number"),
        (MAX_GPUS, "1_000", "not a whole number"),
        (MAX_GPUS, "two", "not a whole number"),
        (MAX_GPUS, "1.5", "not a whole number"),
        (MAX_GPUS, "-1", "must not be negative"),
        ("node.elotl.co/instance-max-memory", "1Gi", "unknown annotation"),
    ],
)
def test_malformed_values_are_reported_with_name_value_and_why(annotation: str, value: str, why: str) -> None:
    constraints, problems = parse_constraints(
        {annotation: value, MAX_GPUS if annotation != MAX_GPUS else MAX_COST: "4"}
    )
    assert len(problems) == 1
    message = str(problems[0])
    assert annotation in message and repr(value) in message and why in message
    # the valid annotation beside it is still parsed
    assert constraints.max_gpus == 4 or constraints.max_cost_usd_per_hour == 4.0


def test_several_problems_are_all_reported() -> None:
    _, problems = parse_constraints({MAX_COST: "x", MAX_GPUS: "y", OFFERINGS: "z"})
    assert {p.annotation for p in problems} == {MAX_COST, MAX_GPUS, OFFERINGS}
