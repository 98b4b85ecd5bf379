"""Property-based tests of every entry point that reads user input: any input yields a value or the product's
own error naming what was wrong, never another exception, never a hang (issue 12).

Strategies mix arbitrary text and JSON with near-misses of valid input (valid shapes with one field wrong), since
purely random input rarely gets past the first check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luna_autoscaler.cli.inputs import pod_manifests, read_documents
from luna_autoscaler.config import Config, config_from_configmap_data, config_from_mapping, config_from_yaml
from luna_autoscaler.errors import ConfigError, ManifestError, QuantityError
from luna_autoscaler.models.constraints import ANNOTATIONS, parse_constraints
from luna_autoscaler.models.manifest import (
    daemonset_from_manifest,
    node_from_manifest,
    pdb_from_manifest,
    pod_from_manifest,
)
from luna_autoscaler.models.quantity import MAX_UNITS, cpu_millis, integer_units, parse_quantity, whole_units
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.models.type_pattern import type_pattern
from tests.unit.test_config_bad_input import ALL_KEYS

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI failures reproduce
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

DIGITS = st.text("0123456789", min_size=1, max_size=30)
SUFFIXES = st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "Ti", "Ei", "n", "u", "e3", "E-2", "e40"])
QUANTITY_TEXT = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda s, d, f, x: f"{s}{d}{f}{x}",
        st.sampled_from(["", "-", "+"]),
        DIGITS,
        st.sampled_from(["", ".", ".5"]),
        SUFFIXES,
    ),
    st.sampled_from(["١٢", "１２", "1_000", "inf", "nan", "1e30", "0x10", " 1 ", "1.2.3", "9" * 5000]),
)
NUMBERS = st.one_of(st.integers(), st.floats(), st.integers(0, 5000).map(lambda n: 10**n - 1))
JSON = st.recursive(  # what a YAML or JSON parser can return: no integer past Python's 4,300-digit limit
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
JSON_TEXT = st.builds(json.dumps, JSON)
NAMES = ["g5.xlarge", "g5.48xlarge", "n1-standard-4", "Standard_NC24ads_A100_v4", "VM.GPU.A10.1", "p4d.24xlarge"]


@PROPERTY
@given(st.one_of(QUANTITY_TEXT, NUMBERS))
def test_quantities_parse_or_raise_quantity_error(value: Any) -> None:
    for read in (cpu_millis, whole_units, lambda v: integer_units(v, resource="nvidia.com/gpu")):
        try:
            amount = read(value)
        except QuantityError as e:
            assert str(e)
        else:
            assert 0 <= amount <= MAX_UNITS


@PROPERTY
@given(st.integers(min_value=0, max_value=10**12), st.sampled_from([("m", 1), ("", 1000), ("k", 10**6)]))
def test_valid_cpu_quantities_read_exactly(n: int, suffix_millis: tuple[str, int]) -> None:
    suffix, millis = suffix_millis
    assert cpu_millis(f"{n}{suffix}") == n * millis
    assert parse_quantity(f"{n}{suffix}") * 1000 == n * millis


@PROPERTY
@given(
    st.dictionaries(
        st.sampled_from(["cpu", "memory", "pods", "nvidia.com/gpu", "hugepages-2Mi", "x"]),
        st.one_of(QUANTITY_TEXT, NUMBERS, JSON),
    )
)
def test_resource_lists_parse_or_raise_quantity_error(quantities: dict[str, Any]) -> None:
    try:
        Resources.parse(quantities, where="requests")
    except QuantityError as e:
        assert str(e).startswith("requests: ")


REGEXPS = st.one_of(
    st.text(max_size=30),
    st.text("()[]{}+*?|\\.^$-wd123a!,=<", max_size=30),
    st.sampled_from([r"^([-\w.]+)+!$", r"^(a+)+$", r"(x+x+)+y", r"(?=g)g5", r"(g)\1", "(" * 5000, "a{1000}{1000}"]),
)
ANNOTATION_VALUES = st.one_of(
    st.text(max_size=30), REGEXPS, QUANTITY_TEXT, st.sampled_from(["spot", "on-demand", "T4,L4", "g5"])
)


@PROPERTY
@given(st.dictionaries(st.sampled_from([*ANNOTATIONS, "node.elotl.co/instance-typo"]), ANNOTATION_VALUES, min_size=1))
def test_annotations_parse_or_name_the_problem(annotations: dict[str, str]) -> None:
    constraints, problems = parse_constraints(annotations)
    for problem in problems:
        assert problem.annotation in annotations and problem.annotation in str(problem) and problem.why
    if constraints.instance_type_regexp is not None:
        for name in NAMES:  # linear time whatever the pattern: RE2
            constraints.instance_type_regexp.search(name * 20)


@PROPERTY
@given(REGEXPS)
def test_type_patterns_compile_or_raise_value_error(text: str) -> None:
    try:
        pattern = type_pattern(text)
    except ValueError as e:
        assert "regular expression" in str(e)
    else:
        assert all(isinstance(pattern.search(n), bool) for n in NAMES)


def _pod(metadata: Any, spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


CONTAINER = st.fixed_dictionaries(
    {
        "name": st.just("c"),
        "resources": st.one_of(
            JSON,
            st.fixed_dictionaries(
                {
                    "requests": st.dictionaries(
                        st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]),
                        st.one_of(QUANTITY_TEXT, NUMBERS),
                        max_size=3,
                    )
                }
            ),
        ),
    }
)
SPEC = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"containers": st.one_of(JSON, st.lists(st.one_of(CONTAINER, JSON), max_size=3))},
        optional={
            "nodeSelector": JSON,
            "tolerations": JSON,
            "affinity": JSON,
            "nodeName": JSON,
            "initContainers": JSON,
            "overhead": JSON,
        },
    ),
)
METADATA = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"name": st.one_of(st.text(max_size=10), JSON)},
        optional={
            "namespace": JSON,
            "labels": JSON,
            "annotations": st.one_of(JSON, st.dictionaries(st.sampled_from(ANNOTATIONS), ANNOTATION_VALUES)),
        },
    ),
)


@PROPERTY
@given(METADATA, SPEC, JSON)
def test_objects_convert_or_raise_manifest_error(metadata: Any, spec: Any, status: Any) -> None:
    obj = {**_pod(metadata, spec), "status": status}
    for convert in (pod_from_manifest, node_from_manifest, daemonset_from_manifest, pdb_from_manifest):
        try:
            convert(obj)
        except ManifestError as e:
            assert str(e)


WORKLOAD_KINDS = st.sampled_from(
    ["Pod", "Deployment", "StatefulSet", "Job", "CronJob", "ReplicaSet", "List", "Service"]
)


@PROPERTY
@given(
    WORKLOAD_KINDS,
    METADATA,
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {
                "replicas": st.one_of(st.integers(-5, 5), st.text(max_size=5), st.floats(), st.none()),
                "template": st.one_of(JSON, st.fixed_dictionaries({"metadata": METADATA, "spec": SPEC})),
            }
        ),
    ),
)
def test_workloads_expand_or_raise_manifest_error(kind: str, metadata: Any, spec: Any) -> None:
    try:
        for pod, replicas in pod_manifests({"kind": kind, "metadata": metadata, "spec": spec}, "w.yaml"):
            pod_from_manifest(pod, replicas)
    except ManifestError as e:
        assert str(e)


@PROPERTY
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200), JSON_TEXT))
def test_manifest_files_read_or_raise_manifest_error(tmp_path: Path, content: str | bytes) -> None:
    path = tmp_path / "pods.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    try:
        for doc in read_documents(str(path)):
            pod_manifests(doc, str(path))
    except ManifestError as e:
        assert str(path) in str(e)


CONFIG_VALUES = st.one_of(
    st.text(max_size=30),
    QUANTITY_TEXT,
    REGEXPS,
    st.sampled_from(["5m", "1h30m", "[T4]", "{a: 1}", "[{replicas: 2}]", "true", "spot"]),
)


def _config_or_error(read: Callable[[], Config], source: str) -> None:
    """`read()` gives a Config, or a ConfigError whose message starts with where the configuration came from."""
    try:
        assert isinstance(read(), Config)
    except ConfigError as e:
        assert str(e).startswith(source)


@PROPERTY
@given(st.dictionaries(st.sampled_from([*ALL_KEYS, "unknownKey", "scaleDown"]), CONFIG_VALUES, max_size=4))
def test_configmap_data_yields_config_or_config_error(data: dict[str, str]) -> None:
    _config_or_error(lambda: config_from_configmap_data(data), "ConfigMap")


@PROPERTY
@given(st.dictionaries(st.sampled_from(ALL_KEYS), JSON, max_size=4))
def test_config_mappings_yield_config_or_config_error(data: dict[str, Any]) -> None:
    _config_or_error(lambda: config_from_mapping(data), "config")


@PROPERTY
@given(st.one_of(st.text(max_size=200), JSON_TEXT))
def test_config_files_yield_config_or_config_error(text: str) -> None:
    _config_or_error(lambda: config_from_yaml(text, source="c.yaml"), "c.yaml")
