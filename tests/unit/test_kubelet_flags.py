"""The labels and taints a self-registering kubelet gets (EKS nodeadm, OKE self-managed nodes), one rule for both."""

from __future__ import annotations

import dataclasses

import pytest

from luna_autoscaler.errors import ProviderConfigurationError
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.kubelet_flags import kubelet_labels, restricted, taint_flags
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import NodeConfiguration
from providers.oci.bootstrap import Cluster, Networking, instance_metadata


def test_only_the_kubelets_own_namespaces_are_allowed_under_kubernetes_io() -> None:
    assert restricted("node-role.kubernetes.io/gpu")
    assert restricted("example.k8s.io/team")
    assert restricted("kubernetes.io/role")
    assert not restricted("node.kubernetes.io/exclude-from-external-load-balancers")
    assert not restricted("sub.kubelet.kubernetes.io/x")
    # A domain that merely ends in the same letters is someone else's namespace.
    assert not restricted("notkubernetes.io/team")
    assert not restricted("team")


def test_labels_are_sorted_and_the_dropped_ones_named() -> None:
    checked = kubelet_labels(
        {"z": "1", "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/gpu": "", "a": "2", "l": "x"},
        leave_out=frozenset({"l"}),
    )
    assert list(checked.labels.items()) == [("a", "2"), ("z", "1")]
    assert checked.dropped == ("node-role.kubernetes.io/gpu",)
    assert checked.flag_value() == "a=2,z=1"


@pytest.mark.parametrize("labels", [{"team": "a,b"}, {"bad key": "x"}, {"x" * 64: "v"}, {"team": "v" * 64}])
def test_an_invalid_label_is_a_configuration_error(labels: dict[str, str]) -> None:
    with pytest.raises(ProviderConfigurationError, match="not a valid Kubernetes label"):
        kubelet_labels(labels)


def test_taints_are_checked_sorted_and_unique() -> None:
    gpu = Taint("nvidia.com/gpu", "present", "NoSchedule")
    assert taint_flags([gpu, Taint("a", "", "NoExecute"), gpu]) == ("a:NoExecute", "nvidia.com/gpu=present:NoSchedule")
    with pytest.raises(ProviderConfigurationError, match="not a valid Kubernetes taint"):
        taint_flags([Taint("bad key", "", "NoSchedule")])


def test_oke_nodes_get_the_same_checks_as_eks_nodes() -> None:
    """OKE's bootstrap once kept any label outside `*kubernetes.io` and passed invalid ones on to a node that then
    never joined; it now shares the EKS rule."""
    cluster = Cluster("10.0.0.1:6443", "Q0E=")
    node = NodeConfiguration("VM.GPU.A10.1", CapacityType.ON_DEMAND, "AD-1", labels={"notkubernetes.io/team": "a"})
    assert instance_metadata(node, cluster, Networking())["oke-initial-node-labels"] == "notkubernetes.io/team=a"
    with pytest.raises(ProviderConfigurationError):
        instance_metadata(dataclasses.replace(node, labels={"team": "a,b"}), cluster, Networking())
