"""The Prometheus metrics of the daemon (names and meaning: docs/metrics.md).

Each `Metrics` owns its own `CollectorRegistry`, so the simulation, the tests and a daemon can build as many
reconcilers as they like without "Duplicated timeseries" errors from the global default registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (15.0, 30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 450.0, 600.0, 900.0, 1800.0)
_COMPUTE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.pending_pods = Gauge(
            "luna_pending_pods",
            "Pending pods seen by the last cycle, by what the loop did with them",
            ["state"],
            registry=r,
        )
        self.nodes = Gauge(
            "luna_nodes",
            "Nodes this autoscaler owns (and launches in flight), by instance type, capacity type and state",
            ["instance_type", "capacity_type", "state"],
            registry=r,
        )
        self.hourly_cost = Gauge(
            "luna_cluster_hourly_cost_usd",
            "Price per hour of the nodes this autoscaler owns plus its launches in flight, USD",
            registry=r,
        )
        self.launches = Counter(
            "luna_launches",
            "Instances launched, by instance type and capacity type",
            ["instance_type", "capacity_type"],
            registry=r,
        )
        self.launch_errors = Counter(
            "luna_launch_errors",
            "Launch attempts that failed, by error kind",
            ["kind"],
            registry=r,
        )
        self.node_operation_failures = Counter(
            "luna_node_operation_failures",
            "Node operations the API or the cloud refused (retried next cycle or left to garbage collection)",
            ["operation"],
            registry=r,
        )
        self.insufficient_capacity = Counter(
            "luna_insufficient_capacity_errors",
            "Insufficient-capacity (ICE / spot unavailable) answers, by capacity type",
            ["capacity_type"],
            registry=r,
        )
        self.launch_latency = Histogram(
            "luna_launch_latency_seconds",
            "Seconds from the launch call to the node being initialised (Ready, GPUs allocatable)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.unavailable_offerings = Gauge(
            "luna_unavailable_offerings",
            "Offerings (type x zone x capacity type) currently marked unavailable, by cause",
            ["reason"],
            registry=r,
        )
        self.planner_duration = Histogram(
            "luna_planner_duration_seconds",
            "Wall-clock seconds per planner call (scale-up plans and scale-down simulations)",
            ["purpose"],
            buckets=_COMPUTE_BUCKETS,
            registry=r,
        )
        self.cycle_duration = Histogram(
            "luna_cycle_duration_seconds",
            "Wall-clock seconds per reconcile cycle",
            buckets=_COMPUTE_BUCKETS,
            registry=r,
        )
        self.cycle_failures = Counter(
            "luna_cycle_failures",
            "Reconcile cycles that failed, by error kind",
            ["kind"],
            registry=r,
        )
        self.last_success = Gauge(
            "luna_last_successful_cycle_timestamp_seconds",
            "Unix time of the last reconcile cycle that completed",
            registry=r,
        )
        self.nodes_removed = Counter(
            "luna_nodes_removed",
            "Nodes or instances removed, by reason",
            ["reason"],
            registry=r,
        )
        self.evictions = Counter(
            "luna_evictions",
            "Eviction calls during drains, by outcome",
            ["outcome"],
            registry=r,
        )
        self.scale_down_blocked = Counter(
            "luna_scale_down_blocked",
            "Times an unneeded node could not be removed, by cause",
            ["cause"],
            registry=r,
        )
        self.interruptions = Counter(
            "luna_interruptions",
            "Interruption notices received from the provider, by kind",
            ["kind"],
            registry=r,
        )
        self.leader = Gauge("luna_leader", "1 while this replica holds the leader lease", registry=r)
