"""The boto3 clients the AWS provider talks through, gathered in one object: the provider's only seam to AWS.

Tests build it against moto's server or a local recording server, and may wrap a client in a fault layer of
their own; nothing below this object is ever patched. The retry policy is botocore's `standard` mode (jittered
exponential backoff on throttling and 5xx, 3 attempts), so a `Transient` error reaching the loop has already been
retried; timeouts keep one slow call from stalling a reconcile cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.config import Config as BotoConfig

# boto3 clients are generated at run time and carry no static types here.
AwsClient = Any

PRICING_API_REGION = "us-east-1"  # the Price List API is served from us-east-1 for every commercial region
CLIENT_CONFIG = BotoConfig(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="luna-autoscaler",
)


@dataclass(frozen=True, slots=True)
class AwsClients:
    ec2: AwsClient
    ssm: AwsClient
    eks: AwsClient
    sqs: AwsClient
    pricing: AwsClient

    @classmethod
    def for_region(cls, session: Any, region: str) -> AwsClients:
        """Clients for one region from a boto3 Session (credentials from the usual chain: Pod Identity, IRSA...)."""
        return cls(
            ec2=session.client("ec2", region_name=region, config=CLIENT_CONFIG),
            ssm=session.client("ssm", region_name=region, config=CLIENT_CONFIG),
            eks=session.client("eks", region_name=region, config=CLIENT_CONFIG),
            sqs=session.client("sqs", region_name=region, config=CLIENT_CONFIG),
            pricing=session.client("pricing", region_name=PRICING_API_REGION, config=CLIENT_CONFIG),
        )
