"""The configuration ConfigMap: hot reload, and a bad update keeping the last good configuration (log + Event)."""

from __future__ import annotations

from collections.abc import Callable

from structlog.testing import capture_logs

from luna_autoscaler.kube import KubeCluster, KubeSettings
from tests.kube.conftest import SETTINGS
from tests.kubeapi import FakeApiServer
from tests.kubeapi.objects import configmap

Start = Callable[..., KubeCluster]
NAME, NAMESPACE = "luna-autoscaler-config", "luna-autoscaler"


def _wait_for_config_change(cluster: KubeCluster, generation: int) -> None:
    assert cluster.config_source.wait_for_change(generation, 5.0) > generation, "no ConfigMap change seen"


def _config_events(api: FakeApiServer) -> list[dict[str, object]]:
    return [e for e in api.list("Event", api_version="events.k8s.io/v1") if e["reason"] == "ConfigInvalid"]


def test_the_configmap_is_loaded_and_hot_reloaded(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(configmap(NAME, NAMESPACE, {"binSelectPodCpuThreshold": "4", "scaleDown.nodeUnneededDuration": "10m"}))
    api.create(configmap(NAME, "other-namespace", {"maxNodes": "1"}))  # not ours
    cluster = start_cluster()
    config = cluster.config()
    assert config is not None and config.bin_select_pod_cpu_threshold_millis == 4000
    assert config.scale_down.node_unneeded_duration_seconds == 600.0 and config.max_nodes is None

    generation = cluster.config_source.generation
    api.patch(
        "ConfigMap",
        NAME,
        {"data": {"maxNodes": "20", "gpuTimeSlicing": "[{gpuSkus: [T4], replicas: 4}]"}},
        namespace=NAMESPACE,
    )
    _wait_for_config_change(cluster, generation)
    config = cluster.config()
    assert config is not None and config.max_nodes == 20 and config.gpu_time_slicing[0].replicas == 4
    assert config.bin_select_pod_cpu_threshold_millis == 4000


def test_an_invalid_update_keeps_the_last_good_config_and_says_why(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(configmap(NAME, NAMESPACE, {"maxNodes": "10"}))
    cluster = start_cluster()
    good = cluster.config()
    assert good is not None and good.max_nodes == 10

    generation = cluster.config_source.generation
    with capture_logs() as logs:
        api.patch("ConfigMap", NAME, {"data": {"maxNodes": "-3", "nodeArchitecture": "sparc"}}, namespace=NAMESPACE)
        _wait_for_config_change(cluster, generation)

    assert cluster.config() is good
    problem = cluster.config_problem()
    assert problem is not None and "maxNodes" in problem and "nodeArchitecture" in problem
    (logged,) = [entry for entry in logs if entry["event"] == "kube.config_invalid"]
    assert logged["log_level"] == "error" and "sparc" in logged["error"]
    assert logged["keeping"] == "the last good configuration"
    (event,) = _config_events(api)
    assert event["type"] == "Warning"
    assert event["regarding"]["kind"] == "ConfigMap" and event["regarding"]["name"] == NAME  # type: ignore[index]
    assert event["metadata"]["namespace"] == NAMESPACE  # type: ignore[index]
    assert "keeping the last good configuration" in str(event["note"]) and "sparc" in str(event["note"])

    generation = cluster.config_source.generation
    api.patch("ConfigMap", NAME, {"data": {"maxNodes": "12", "nodeArchitecture": None}}, namespace=NAMESPACE)
    _wait_for_config_change(cluster, generation)
    fixed = cluster.config()
    assert fixed is not None and fixed.max_nodes == 12 and cluster.config_problem() is None


def test_an_invalid_configmap_at_start_leaves_the_local_config_in_force(
    api: FakeApiServer, start_cluster: Start
) -> None:
    api.create(configmap(NAME, NAMESPACE, {"defaultOfferings": "reserved"}))
    cluster = start_cluster()
    assert cluster.config() is None
    assert "defaultOfferings" in (cluster.config_problem() or "")
    assert "keeping the local or default configuration" in str(_config_events(api)[0]["note"])


def test_a_relist_does_not_report_the_same_bad_data_twice(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(configmap(NAME, NAMESPACE, {"maxNodes": "lots"}))
    cluster = start_cluster()
    assert api.wait_for_watches("configmaps")
    lists = sum(1 for r in api.requests if r.resource == "configmaps" and r.verb == "list")
    api.compact()
    api.drop_watches("configmaps")  # the re-watch gets 410 and re-lists: the same data arrives again
    assert api.wait_for_requests("configmaps", "list", count=lists + 1)
    assert api.wait_for_watches("configmaps")
    assert len(_config_events(api)) == 1
    assert "maxNodes" in (cluster.config_problem() or "")


def test_no_configmap_or_a_deleted_one_means_local_config(api: FakeApiServer, start_cluster: Start) -> None:
    cluster = start_cluster()
    assert cluster.config() is None and cluster.config_problem() is None

    generation = cluster.config_source.generation
    api.create(configmap(NAME, NAMESPACE, {"maxGpus": "8"}))
    _wait_for_config_change(cluster, generation)
    config = cluster.config()
    assert config is not None and config.max_gpus == 8

    generation = cluster.config_source.generation
    api.delete("ConfigMap", NAME, namespace=NAMESPACE)
    _wait_for_config_change(cluster, generation)
    assert cluster.config() is None


def test_the_configmap_name_and_namespace_are_settings(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(configmap("autoscaler", "kube-system", {"maxNodes": "7"}))
    settings = KubeSettings(
        config_map_name="autoscaler", config_map_namespace="kube-system", watch=SETTINGS.watch, calls=SETTINGS.calls
    )
    cluster = start_cluster(settings)
    config = cluster.config()
    assert config is not None and config.max_nodes == 7
    (listed,) = [r for r in api.requests if r.resource == "configmaps" and r.verb == "list"]
    assert listed.namespace == "kube-system" and listed.query["fieldSelector"] == "metadata.name=autoscaler"


def test_only_the_leader_posts_config_invalid(api: FakeApiServer, start_cluster: Start) -> None:
    """Two replicas watch the ConfigMap; one bad update gives one Event (issue 12: one per replica)."""
    api.create(configmap(NAME, NAMESPACE, {"maxNodes": "10"}))
    leader = [True, False]
    replicas = [start_cluster(leading=lambda i=i: leader[i]) for i in range(2)]
    generations = [r.config_source.generation for r in replicas]
    api.patch("ConfigMap", NAME, {"data": {"maxNodes": "-3"}}, namespace=NAMESPACE)
    for replica, generation in zip(replicas, generations, strict=True):
        _wait_for_config_change(replica, generation)
        assert "maxNodes" in (replica.config_problem() or "")
        replica.config()  # what every cycle does
    (event,) = _config_events(api)
    assert "maxNodes" in str(event["note"])

    # the standby takes over while the problem stands: it posts what it owes, once
    leader[:] = [False, True]
    replicas[1].config()
    replicas[1].config()
    assert len(_config_events(api)) == 2

    # a problem fixed before a replica leads is never reported by it
    for data in ({"nodeArchitecture": "sparc"}, {"maxNodes": "5", "nodeArchitecture": None}):
        generations = [r.config_source.generation for r in replicas]
        api.patch("ConfigMap", NAME, {"data": data}, namespace=NAMESPACE)
        for replica, generation in zip(replicas, generations, strict=True):
            _wait_for_config_change(replica, generation)
    leader[:] = [True, False]
    assert replicas[0].config() is not None
    notes = [str(e["note"]) for e in _config_events(api)]
    assert (
        len(notes) == 3 and sum("sparc" in n for n in notes) == 1
    )  # replica 1 led when "sparc" came; replica 0 never reports it
