"""Where the EKS cluster is: endpoint, CA, service CIDR, version and its security group.

Each can be set in `aws.*`; whatever is missing comes from one EKS DescribeCluster call, made at the first launch
(not at start-up, so `--dry-run` and `plan` need no EKS permission) and kept for the life of the process: these
do not change without the cluster being replaced.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from luna_autoscaler.errors import ProviderConfigurationError
from providers.aws.bootstrap import ClusterCoordinates
from providers.aws.classify import error_code, from_botocore_error, from_client_error
from providers.aws.clients import AwsClient
from providers.aws.config import AwsConfig

_OR_CONFIGURE = (
    "or set aws.clusterEndpoint, aws.clusterCA, aws.clusterVersion, aws.serviceCIDR and aws.securityGroups instead"
)


@dataclass(frozen=True, slots=True)
class EksCluster:
    coordinates: ClusterCoordinates
    security_group_ids: tuple[str, ...]


def _configured(aws: AwsConfig, name: str) -> EksCluster | None:
    if not (aws.cluster_endpoint and aws.cluster_ca and aws.cluster_version and aws.service_cidr):
        return None
    if not aws.security_groups:
        return None
    coordinates = ClusterCoordinates(name, aws.cluster_endpoint, aws.cluster_ca, aws.service_cidr, aws.cluster_version)
    return EksCluster(coordinates, tuple(aws.security_groups))


def describe_cluster(aws: AwsConfig, name: str, eks: AwsClient) -> EksCluster:
    """The configured values, completed from DescribeCluster where any is missing."""
    configured = _configured(aws, name)
    if configured is not None:
        return configured
    what = f"eks:DescribeCluster {name}"
    try:
        cluster = eks.describe_cluster(name=name)["cluster"]
    except ClientError as e:
        if error_code(e) == "ResourceNotFoundException":
            raise ProviderConfigurationError(
                f"EKS cluster {name!r} not found in {aws.region}: check aws.clusterName and aws.region"
            ) from e
        error = from_client_error(e, what=what)
        if isinstance(error, ProviderConfigurationError):
            raise ProviderConfigurationError(f"{error}; {_OR_CONFIGURE}") from e
        raise error from e
    except BotoCoreError as e:
        raise from_botocore_error(e, what=what) from e
    network = cluster.get("kubernetesNetworkConfig") or {}
    service_cidr = aws.service_cidr or network.get("serviceIpv4Cidr") or network.get("serviceIpv6Cidr") or ""
    vpc = cluster.get("resourcesVpcConfig") or {}
    groups = tuple(aws.security_groups) or tuple(g for g in [vpc.get("clusterSecurityGroupId")] if g)
    coordinates = ClusterCoordinates(
        name=name,
        endpoint=aws.cluster_endpoint or str(cluster.get("endpoint") or ""),
        certificate_authority=aws.cluster_ca or str((cluster.get("certificateAuthority") or {}).get("data") or ""),
        service_cidr=service_cidr,
        version=aws.cluster_version or str(cluster.get("version") or ""),
    )
    missing = [
        key
        for key, value in (
            ("clusterEndpoint", coordinates.endpoint),
            ("clusterCA", coordinates.certificate_authority),
            ("serviceCIDR", coordinates.service_cidr),
            ("clusterVersion", coordinates.version),
            ("securityGroups", groups),
        )
        if not value
    ]
    if missing:
        raise ProviderConfigurationError(
            f"EKS cluster {name!r}: DescribeCluster did not give {', '.join(missing)}; set aws.{', aws.'.join(missing)}"
        )
    return EksCluster(coordinates, groups)
