"""connect(): which cluster the daemon talks to (--kubeconfig, KUBECONFIG, in-cluster, ~/.kube/config)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client as k8s

from luna_autoscaler.errors import ConfigError
from luna_autoscaler.kube import connect
from tests.kubeapi import FakeApiServer


def _server_version(client: k8s.ApiClient) -> str:
    return str(k8s.VersionApi(client).get_code().git_version)


def test_an_explicit_kubeconfig_wins_over_the_environment(api: FakeApiServer, tmp_path: Path) -> None:
    path = api.write_kubeconfig(tmp_path / "config")
    client = connect(str(path), environ={"KUBECONFIG": str(tmp_path / "missing"), "KUBERNETES_SERVICE_HOST": "x"})
    assert client.configuration.host == api.url
    assert _server_version(client) == "v1.31.0-luna-fake"
    assert client.configuration.connection_pool_maxsize >= 16
    client.close()


def test_kubeconfig_from_the_environment_with_several_files(api: FakeApiServer, tmp_path: Path) -> None:
    path = api.write_kubeconfig(tmp_path / "config")
    (tmp_path / "extra").write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    client = connect(None, environ={"KUBECONFIG": f"{path}:{tmp_path / 'extra'}"})
    assert _server_version(client) == "v1.31.0-luna-fake"
    client.close()


def test_in_cluster_service_account(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    client = connect(None, environ=env, service_account_dir=tmp_path)
    assert client.configuration.host == "https://10.96.0.1:443"
    assert client.configuration.auth_settings()["BearerToken"]["value"] == "bearer sa-token"
    assert client.configuration.ssl_ca_cert == str(tmp_path / "ca.crt")
    client.close()


def test_nothing_to_connect_to_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="no Kubernetes cluster to talk to"):
        connect(None, environ={})


def test_a_broken_source_names_itself(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n")
    with pytest.raises(ConfigError, match=r"--kubeconfig .*config"):
        connect(str(tmp_path / "config"), environ={})
    with pytest.raises(ConfigError, match="in-cluster service account"):
        connect(
            None,
            environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
            service_account_dir=tmp_path / "absent",
        )
