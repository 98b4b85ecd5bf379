"""Launch templates: one per node configuration, named by a hash of its content, never modified.

A node configuration is everything an instance boots with apart from its type and subnet (which CreateFleet
overrides pick): image, user data (cluster, labels, taints), instance profile, security groups, root volume,
metadata options. Naming the template by a hash of that content makes creation idempotent across restarts and
replicas (the same configuration always finds the same template) and makes drift impossible: a changed setting
is a new template, so a launch never boots from a half-updated one. Templates carry the cluster's tags, so an
operator can find and delete the ones a configuration change left behind.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import structlog
from botocore.exceptions import ClientError

from providers.aws.classify import classified, error_code
from providers.aws.clients import AwsClient

log = structlog.get_logger(__name__)

ROOT_DEVICE_NAME = "/dev/xvda"  # Amazon Linux 2023's root device
# IMDSv2 only, and one hop: pods on the pod network cannot reach the node role's credentials (Karpenter's default).
METADATA_OPTIONS = {"HttpEndpoint": "enabled", "HttpTokens": "required", "HttpPutResponseHopLimit": 1}
_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TemplateContent:
    cluster_name: str
    image_id: str
    user_data: str
    instance_profile: str
    security_group_ids: tuple[str, ...]
    root_volume_gib: int
    root_volume_type: str
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def launch_template_data(self) -> dict[str, object]:
        profile = (
            {"Arn": self.instance_profile}
            if self.instance_profile.startswith("arn:")
            else {"Name": self.instance_profile}
        )
        tags = [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())]
        return {
            "ImageId": self.image_id,
            "UserData": base64.b64encode(self.user_data.encode()).decode(),
            "IamInstanceProfile": profile,
            "SecurityGroupIds": list(self.security_group_ids),
            "BlockDeviceMappings": [
                {
                    "DeviceName": ROOT_DEVICE_NAME,
                    "Ebs": {
                        "VolumeSize": self.root_volume_gib,
                        "VolumeType": self.root_volume_type,
                        "Encrypted": True,
                        "DeleteOnTermination": True,
                    },
                }
            ],
            "MetadataOptions": dict(METADATA_OPTIONS),
            "TagSpecifications": [{"ResourceType": "volume", "Tags": tags}] if tags else [],
        }

    @property
    def name(self) -> str:
        canonical = json.dumps(self.launch_template_data(), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        return f"luna-{self.cluster_name}-{digest}"[:128]


class LaunchTemplates:
    """Creates templates on first use; remembers which exist so that a launch costs no extra call."""

    def __init__(self, ec2: AwsClient) -> None:
        self._ec2 = ec2
        self._known: set[str] = set()

    def ensure(self, configuration: TemplateContent) -> str:
        name = configuration.name
        if name in self._known:
            return name
        tags = [{"Key": k, "Value": v} for k, v in sorted(configuration.tags.items())]
        with classified(f"ec2:CreateLaunchTemplate {name}"):
            try:
                self._ec2.create_launch_template(
                    LaunchTemplateName=name,
                    LaunchTemplateData=configuration.launch_template_data(),
                    TagSpecifications=[{"ResourceType": "launch-template", "Tags": tags}] if tags else [],
                )
                log.info("launch template created", launch_template=name, image_id=configuration.image_id)
            except ClientError as e:
                if error_code(e) != "InvalidLaunchTemplateName.AlreadyExistsException":
                    raise
        self._known.add(name)
        return name

    def forget(self, name: str) -> None:
        """The template was deleted behind our back: the next `ensure` recreates it."""
        self._known.discard(name)
