"""What an OKE node reserves: an assumption, not a measurement.

Oracle documents no default reservation (its troubleshooting page recommends setting `--kube-reserved` and
`--system-reserved` through cloud-init, https://docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/
contengtroubleshooting_topic-node_issues.htm). We assume the GKE rule and a 100 MiB eviction threshold, which is
what such cloud-init recipes implement.
"""

from __future__ import annotations

from pricing.gcp.overhead import kube_reserved
from pricing.kubelet import ReservationRule

RULE = ReservationRule("OKE (assumed like GKE)", 50, kube_reserved)  # boot disk: OKE's default worker boot volume
