"""Shared fixtures of the deploy tests: where deploy/ is, and every overlay rendered once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

from luna_autoscaler.kube import metrics as kube_metrics
from luna_autoscaler.observability.metrics import Metrics
from tests.deploy.kustomize import Manifest, render

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
NAMESPACE = "luna-autoscaler"
# Overlay → the provider entry point it runs and the pyproject extra its image is built with.
CLOUD_OF_OVERLAY = {"eks": "aws", "gke": "gcp", "aks": "azure", "oke": "oci"}


def find(objects: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container(objects: list[Manifest]) -> dict[str, Any]:
    deployment = find(objects, "Deployment", "luna-autoscaler")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["luna-autoscaler"]
    result: dict[str, Any] = containers[0]
    return result


SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_metrics() -> dict[str, str]:
    """Sample name → metric family, for the metrics the daemon serves: the loop's own registry
    (`luna_autoscaler.observability.metrics`) and the Kubernetes adapter's collectors (`luna_autoscaler.kube.metrics`,
    on the default registry). Read from those sources rather than from the default registry, which other tests in
    the same process may have added to. Expanded as prometheus-client exposes them (a counter `x` as `x_total`, a
    histogram as `x_bucket`, `x_sum`, `x_count`)."""
    adapter = [m for m in vars(kube_metrics).values() if isinstance(m, MetricWrapperBase)]
    families = [*Metrics().registry.collect(), *(f for m in adapter for f in m.collect())]
    return {family.name + suffix: family.name for family in families for suffix in SAMPLE_SUFFIXES[family.type]}


@pytest.fixture(scope="session")
def overlays() -> dict[str, list[Manifest]]:
    return {name: render(DEPLOY / "overlays" / name) for name in CLOUD_OF_OVERLAY}
