"""The ConfigMap schema: Luna names, units, defaults, and errors that name the key."""

import pytest

from luna_autoscaler.config import Config, config_from_configmap_data, config_from_yaml, duration_seconds
from luna_autoscaler.errors import ConfigError
from luna_autoscaler.models.catalog import CapacityType
from providers.aws.config import AwsConfig


def test_defaults_are_documented_values() -> None:
    c = Config()
    assert c.labels == {"elotl-luna": "true"}
    assert c.bin_select_pod_cpu_threshold_millis == 2000
    assert c.scale_down.node_unneeded_duration_seconds == 300
    assert c.scale_down.bin_pack_utilization_threshold == 0.2
    assert c.scale_down.bin_select_utilization_threshold == 0.75
    assert c.default_offerings == (CapacityType.ON_DEMAND,)
    assert c.registration_timeout_seconds == 900


def test_configmap_data_values_are_yaml_and_keys_may_be_dotted() -> None:
    c = config_from_configmap_data(
        {
            "binSelectPodCpuThreshold": "2500m",
            "binSelectPodMemoryThreshold": "16Gi",
            "defaultOfferings": "spot,on-demand",
            "labels": "team=ml,elotl-luna=true",
            "scaleDown.nodeUnneededDuration": "10m",
            "scaleDown": "binPackUtilizationThreshold: 0.3",
            "gpuTimeSlicing": "- gpuSkus: [T4, L4]\n  replicas: 4\n- instanceTypeRegexp: '^g5\\.'\n  replicas: 2\n  renameByDefault: true",
            "maxHourlyCost": "120.5",
            "aws.maxSpotInterruptBucket": "1",
        }
    )
    assert c.bin_select_pod_cpu_threshold_millis == 2500
    assert c.bin_select_pod_memory_threshold_bytes == 16 * 2**30
    assert c.default_offerings == (CapacityType.SPOT, CapacityType.ON_DEMAND)
    assert c.labels == {"team": "ml", "elotl-luna": "true"}
    assert c.scale_down.node_unneeded_duration_seconds == 600
    assert c.scale_down.bin_pack_utilization_threshold == 0.3
    assert [t.replicas for t in c.gpu_time_slicing] == [4, 2]
    assert c.gpu_time_slicing[1].rename_by_default
    assert c.max_hourly_cost_usd == 120.5
    assert AwsConfig.of(c).max_spot_interrupt_bucket == 1


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"maxNodes": "-1"}, "maxNodes"),
        ({"nodeArchitecture": "x86"}, "nodeArchitecture"),
        ({"defaultOfferings": "reserved"}, "defaultOfferings"),
        ({"scaleDown.nodeUnneededDuration": "soon"}, "scaleDown.nodeUnneededDuration"),
        ({"gpuTimeSlicing": "- replicas: 4"}, "gpuTimeSlicing.0"),
        ({"gpuTimeSlicing": "- gpuSkus: [T4]\n  replicas: 0"}, "gpuTimeSlicing.0.replicas"),
        ({"binPackingNodeTypeRegexp": "(("}, "binPackingNodeTypeRegexp"),
        ({"nodeTaints": "[bad taint]"}, "nodeTaints"),
        ({"binSelectPodCpuThreshold": "two"}, "binSelectPodCpuThreshold"),
        ({"noSuchKey": "1"}, "noSuchKey"),
        ({"labels": "novalue"}, "labels"),
        ({"aws.maxSpotPriceRatio": "2"}, "aws.maxSpotPriceRatio"),
        ({"gpuTimeSlicing": "[unclosed"}, "gpuTimeSlicing"),
    ],
)
def test_invalid_values_name_the_key(data: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_configmap_data(data, source="ConfigMap luna/luna-config")
    assert names in str(err.value) and "ConfigMap luna/luna-config" in str(err.value)


def test_config_file_may_be_a_plain_mapping_or_a_configmap() -> None:
    plain = config_from_yaml("maxGpus: 64\nscaleDown:\n  nodeUnneededDuration: 2m\n", source="f.yaml")
    cm = config_from_yaml(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  maxGpus: '64'\n  scaleDown.nodeUnneededDuration: 2m\n",
        source="cm.yaml",
    )
    assert plain == cm
    assert plain.max_gpus == 64 and plain.scale_down.node_unneeded_duration_seconds == 120
    assert config_from_yaml("", source="empty") == Config()
    with pytest.raises(ConfigError, match=r"f\.yaml"):
        config_from_yaml("- a list", source="f.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), (45, 45)]
)
def test_durations(text: str | int, seconds: float) -> None:
    assert duration_seconds(text) == seconds


def test_architecture_preference_order() -> None:
    assert Config(nodeArchitecture="arm64|amd64").architectures() == ("arm64", "amd64")
