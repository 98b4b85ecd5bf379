"""Operating the daemon: Prometheus metrics, the /metrics /healthz /readyz server, and JSON log setup.

Kept apart from the reconcile loop so that the loop only records facts (a launch, a cycle's duration) and the
way they are exposed (registry, HTTP, log format) is decided once, by the composition root.
"""
