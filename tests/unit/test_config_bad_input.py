"""Reproducers of what fuzzing the configuration found (issue 12), for every key the schema has.

Each used to crash (`OverflowError`, Python's 4,300-digit `ValueError` before validation) or to be accepted when
it should not (`inf` durations and costs, negative memory, Arabic-Indic digits read as ASCII, `1e30` CPUs).
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from luna_autoscaler.config import (
    Config,
    config_from_configmap_data,
    config_from_mapping,
    config_keys,
    duration_seconds,
    provider_sections,
)
from luna_autoscaler.errors import ConfigError


def _field(key: str) -> FieldInfo:
    """The schema field a dotted key names (provider sections included)."""
    head, _, rest = key.partition(".")
    sections = provider_sections()
    model: type[BaseModel] = sections[head] if rest and head in sections else Config
    parts = key.split(".")[1:] if model is not Config else key.split(".")
    info = None
    for part in parts:
        info = next(f for n, f in model.model_fields.items() if part in (f.alias, n))
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            model = info.annotation
    assert info is not None
    return info


def _is_duration(info: FieldInfo) -> bool:
    return any(getattr(m, "func", None) is duration_seconds for m in info.metadata)


ALL_KEYS = sorted(config_keys())
DURATION_KEYS = sorted(key for key in ALL_KEYS if _is_duration(_field(key)))


def test_every_duration_key_is_found() -> None:
    assert {"scaleDown.nodeUnneededDuration", "registrationTimeout", "insufficientCapacityTTL"} <= set(DURATION_KEYS)
    assert len(DURATION_KEYS) >= 7


@pytest.mark.parametrize("key", DURATION_KEYS)
@pytest.mark.parametrize("value", ["1" * 400, "1" * 400 + "s", "9" * 15 + "d", "inf", ".inf", "nan", "-5s", "١٢s"])
def test_durations_out_of_range_or_not_ascii_are_rejected(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key.rsplit(".", 1)[-1]):
        config_from_configmap_data({key: value})


@pytest.mark.parametrize("key", DURATION_KEYS)
def test_durations_as_yaml_numbers_out_of_range_are_rejected(key: str) -> None:
    for value in (10**400, float("inf"), float("nan"), 1e300):
        with pytest.raises(ConfigError, match="duration"):
            config_from_mapping({key: value})


def test_durations_still_read_as_documented() -> None:
    assert duration_seconds("1h30m") == 5400.0
    assert duration_seconds("90") == 90.0
    assert duration_seconds("1.5m") == 90.0
    assert duration_seconds(300) == 300.0
    assert duration_seconds("366d") == 366 * 86400.0


@pytest.mark.parametrize("key", ALL_KEYS)
def test_a_5000_digit_value_is_a_config_error_for_every_key(key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        config_from_configmap_data({key: "9" * 5000})


@pytest.mark.parametrize("value", ["inf", ".inf", "nan", "-1"])
def test_max_hourly_cost_must_be_finite_and_not_negative(value: str) -> None:
    with pytest.raises(ConfigError, match="maxHourlyCost"):
        config_from_configmap_data({"maxHourlyCost": value})


@pytest.mark.parametrize("key", ["binSelectPodMemoryThreshold", "binPackingNodeMemory"])
@pytest.mark.parametrize("value", ["-5m", "-1", "-0.5Gi"])
def test_negative_memory_is_rejected(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match="negative"):
        config_from_configmap_data({key: value})


@pytest.mark.parametrize("key", ["binSelectPodCpuThreshold", "binPackingNodeCpu"])
@pytest.mark.parametrize("value", ["-5m", "-1"])
def test_negative_cpu_is_rejected(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match="negative"):
        config_from_configmap_data({key: value})


@pytest.mark.parametrize("value", ["١٢", "１２", "12\u0663"])
def test_unicode_digits_in_quantities_are_rejected(value: str) -> None:
    with pytest.raises(ConfigError, match="not a Kubernetes quantity"):
        config_from_configmap_data({"binSelectPodCpuThreshold": value})


@pytest.mark.parametrize("value", ["1e30", "1E30", "99999999999999999999Ei", 10**40, 1e30])
def test_unbounded_quantities_are_rejected(value: object) -> None:
    with pytest.raises(ConfigError, match="too large"):
        config_from_mapping({"binPackingNodeMemory": value})


@pytest.mark.parametrize("key", ["binPackingNodeTypeRegexp", "gpuTimeSlicing"])
def test_regexps_re2_cannot_run_are_rejected_naming_why(key: str) -> None:
    value = r"(?=g5)g5\..*" if key == "binPackingNodeTypeRegexp" else "[{instanceTypeRegexp: '(g)\\1', replicas: 2}]"
    with pytest.raises(ConfigError, match="backreferences or lookaround"):
        config_from_configmap_data({key: value})
