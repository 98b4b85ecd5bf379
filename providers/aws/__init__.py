"""The AWS (EKS) provider: EC2 instant fleets for nodes, live prices, SQS interruption notices (docs/aws.md).

Importing this package costs nothing and needs no SDK; `create` imports boto3 and turns its absence into
`MissingExtra`, so a cluster on another cloud never trips over a missing AWS SDK.
"""

from __future__ import annotations

from luna_autoscaler.errors import MissingExtra
from luna_autoscaler.ports import NodeProvider, ProviderContext
from providers.aws.config import AwsConfig


def create(ctx: ProviderContext) -> NodeProvider:
    """The `luna_autoscaler.providers` entry point: credentials from the standard chain (Pod Identity, IRSA...)."""
    try:
        import boto3
    except ImportError as e:
        raise MissingExtra("aws", "boto3") from e
    from pricing.catalog import provider_catalog
    from providers.aws.clients import AwsClients
    from providers.aws.provider import AwsProvider

    config = ctx.config
    aws = AwsConfig.of(config)
    bundled = provider_catalog("aws", aws.region, "aws.region")
    return AwsProvider(
        config=config,
        cluster_name=ctx.cluster_name,
        clients=AwsClients.for_region(boto3.session.Session(), aws.region),
        clock=ctx.clock,
        bundled=bundled,
        metrics_registry=ctx.metrics_registry,
    )
