"""Interruption notices through moto's SQS: EventBridge event bodies in, InterruptionNotices out, queue drained."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from luna_autoscaler.errors import ProviderConfigurationError
from luna_autoscaler.ports import InterruptionKind
from tests.aws.clock import FakeClock
from tests.aws.conftest import ProviderFactory
from tests.aws.world import AwsWorld


def event(
    detail_type: str,
    detail: dict[str, Any],
    *,
    source: str = "aws.ec2",
    time: str = "2026-11-28T11:58:00Z",
    resources: list[str] | None = None,
) -> str:
    """An event as EventBridge delivers it to an SQS target (the body is the event JSON)."""
    return json.dumps(
        {
            "version": "0",
            "id": "1e5527d7-bb36-4607-3370-4164db56a40e",
            "detail-type": detail_type,
            "source": source,
            "account": "123456789012",
            "time": time,
            "region": "us-east-1",
            "resources": resources or [f"arn:aws:ec2:us-east-1:123456789012:instance/{detail.get('instance-id')}"],
            "detail": detail,
        }
    )


SPOT = event(
    "EC2 Spot Instance Interruption Warning", {"instance-id": "i-0aaa1111bbbb22220", "instance-action": "terminate"}
)
REBALANCE = event("EC2 Instance Rebalance Recommendation", {"instance-id": "i-0aaa1111bbbb22221"})
TERMINATED = event(
    "EC2 Instance State-change Notification", {"instance-id": "i-0aaa1111bbbb22222", "state": "shutting-down"}
)
RUNNING = event("EC2 Instance State-change Notification", {"instance-id": "i-0aaa1111bbbb22223", "state": "running"})
RETIREMENT = event(
    "AWS Health Event",
    {
        "eventArn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_1",
        "service": "EC2",
        "eventTypeCode": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
        "eventTypeCategory": "scheduledChange",
        "startTime": "Sat, 05 Dec 2026 01:00:00 GMT",
        "endTime": "Sat, 05 Dec 2026 07:00:00 GMT",
        "eventDescription": [{"language": "en_US", "latestDescription": "EC2 has detected degradation ..."}],
        "affectedEntities": [{"entityValue": "i-0aaa1111bbbb22224"}, {"entityValue": "i-0aaa1111bbbb22225"}],
    },
    source="aws.health",
    resources=["i-0aaa1111bbbb22224", "i-0aaa1111bbbb22225"],
)
RDS_HEALTH = event(
    "AWS Health Event",
    {"service": "RDS", "eventTypeCategory": "scheduledChange", "affectedEntities": []},
    source="aws.health",
    resources=["db-1"],
)


def queue(world: AwsWorld, name: str) -> tuple[Any, str]:
    sqs = world.client("sqs")
    return sqs, sqs.create_queue(QueueName=name)["QueueUrl"]


def waiting(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_events_become_notices_and_every_message_is_deleted(
    world: AwsWorld, make_provider: ProviderFactory, clock: FakeClock
) -> None:
    sqs, url = queue(world, "notices-all-kinds")
    for body in (SPOT, REBALANCE, TERMINATED, RUNNING, RETIREMENT, RDS_HEALTH, "not json at all", '{"detail": 3}'):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    provider = make_provider(interruptionQueue=url)

    with capture_logs() as logs:
        notices = provider.poll_interruptions()

    by_instance = {n.instance_id: n for n in notices}
    assert set(by_instance) == {
        "i-0aaa1111bbbb22220",
        "i-0aaa1111bbbb22221",
        "i-0aaa1111bbbb22222",
        "i-0aaa1111bbbb22224",
        "i-0aaa1111bbbb22225",
    }
    sent = datetime(2026, 11, 28, 11, 58, tzinfo=UTC)
    spot = by_instance["i-0aaa1111bbbb22220"]
    assert (spot.kind, spot.deadline, spot.received_at) == (
        InterruptionKind.SPOT_INTERRUPTION,
        sent + timedelta(minutes=2),
        clock.now,
    )
    assert by_instance["i-0aaa1111bbbb22221"].kind is InterruptionKind.REBALANCE
    assert by_instance["i-0aaa1111bbbb22221"].deadline is None
    going = by_instance["i-0aaa1111bbbb22222"]
    assert (going.kind, going.deadline) == (InterruptionKind.SPOT_INTERRUPTION, sent)
    retirement = by_instance["i-0aaa1111bbbb22225"]
    assert retirement.kind is InterruptionKind.SCHEDULED_MAINTENANCE
    assert retirement.deadline == datetime(2026, 12, 5, 1, 0, tzinfo=UTC)

    malformed = [entry for entry in logs if entry["event"] == "interruption queue: malformed message deleted"]
    assert len(malformed) == 2
    assert waiting(sqs, url) == 0
    assert provider.poll_interruptions() == []


def test_a_burst_larger_than_one_receive_is_read_in_one_poll(world: AwsWorld, make_provider: ProviderFactory) -> None:
    sqs, url = queue(world, "notices-burst")
    ids = [f"i-0bbb{n:013d}" for n in range(25)]
    for instance_id in ids:
        sqs.send_message(
            QueueUrl=url,
            MessageBody=event(
                "EC2 Spot Instance Interruption Warning", {"instance-id": instance_id, "instance-action": "stop"}
            ),
        )
    notices = make_provider(interruptionQueue=url).poll_interruptions()
    assert sorted(n.instance_id for n in notices) == ids
    assert waiting(sqs, url) == 0


def test_the_queue_may_be_given_by_name(world: AwsWorld, make_provider: ProviderFactory) -> None:
    sqs, url = queue(world, "notices-by-name")
    sqs.send_message(QueueUrl=url, MessageBody=REBALANCE)
    notices = make_provider(interruptionQueue="notices-by-name").poll_interruptions()
    assert [n.instance_id for n in notices] == ["i-0aaa1111bbbb22221"]


def test_a_missing_queue_is_a_configuration_error(make_provider: ProviderFactory) -> None:
    with pytest.raises(ProviderConfigurationError, match=r"aws\.interruptionQueue"):
        make_provider(interruptionQueue="no-such-queue").poll_interruptions()


def test_without_a_queue_interruptions_are_a_missing_feature(make_provider: ProviderFactory) -> None:
    provider = make_provider(interruptionQueue="")
    assert "interruptions" in provider.features
    assert provider.poll_interruptions() == ()
