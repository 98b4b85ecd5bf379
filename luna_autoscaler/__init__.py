"""luna-autoscaler: an open node autoscaler for GPU Kubernetes clusters (EKS, GKE, AKS, OKE)."""

__version__ = "0.1.0"
