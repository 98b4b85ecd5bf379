"""Cluster placement groups for gangs that ask for one (EFA, InfiniBand: docs/gangs-and-queues.md).

A gang's launches name one group (`LaunchRequest.placement_group`); the first launch creates it with the
`cluster` strategy (instances packed close in one zone) and every launch's fleet overrides place the instance in
it. Creating is idempotent: a group that already exists (another launch of the gang, or a restart) is used as it
is. Groups are not deleted: an empty placement group costs nothing, and deleting one a retried launch still
names would fail that launch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from providers.aws.classify import error_code, from_botocore_error, from_client_error

DUPLICATE = "InvalidPlacementGroup.Duplicate"


class PlacementGroups:
    def __init__(self, ec2: Any) -> None:
        self._ec2 = ec2
        self._known: set[str] = set()

    def ensure(self, name: str, tags: Mapping[str, str]) -> None:
        """The cluster placement group `name` exists (created, tagged as ours, if it did not)."""
        if name in self._known:
            return
        what = f"ec2:CreatePlacementGroup {name}"
        try:
            self._ec2.create_placement_group(
                GroupName=name,
                Strategy="cluster",
                TagSpecifications=[
                    {"ResourceType": "placement-group", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
                ],
            )
        except ClientError as e:
            if error_code(e) != DUPLICATE:
                raise from_client_error(e, what=what) from e
        except BotoCoreError as e:
            raise from_botocore_error(e, what=what) from e
        self._known.add(name)
