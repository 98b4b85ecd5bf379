"""Prometheus metrics of the Kubernetes adapter: how often watches restart and why, how often we re-list.

A watch that restarts on every timeout is healthy; one that keeps hitting errors or 410s is not, and shows it
here before the cluster view goes stale.
"""

from __future__ import annotations

from prometheus_client import Counter

WATCH_RESTARTS = Counter(
    "luna_kube_watch_restarts_total",
    "Watch streams that ended and were restarted, by resource and cause (timeout, error, expired).",
    ["resource", "cause"],
)
RELISTS = Counter("luna_kube_relists_total", "Full lists of a resource (start-up and after 410 Expired).", ["resource"])
EVICTIONS = Counter("luna_kube_evictions_total", "Eviction requests by outcome (evicted, gone, blocked).", ["outcome"])
EVENTS_POSTED = Counter(
    "luna_kube_events_total", "Kubernetes Events posted, by reason and API (events.k8s.io or core).", ["reason", "api"]
)
