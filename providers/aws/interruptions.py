"""Spot interruption, rebalance and maintenance notices, read from the SQS queue EventBridge feeds.

EventBridge rules (docs/aws.md) send four kinds of events to `aws.interruptionQueue`; the message body is the
event JSON itself:

- `EC2 Spot Instance Interruption Warning` (aws.ec2): the instance goes in two minutes → spot-interruption,
  deadline = event time + 120 s.
- `EC2 Instance Rebalance Recommendation` (aws.ec2): elevated interruption risk → rebalance, no deadline.
- `EC2 Instance State-change Notification` (aws.ec2) to stopping, stopped, shutting-down or terminated: the
  machine is going away now, whatever the reason → spot-interruption with the event time as deadline (the loop
  drains and replaces at once, as for a spot notice). Other states are ignored.
- `AWS Health Event` (aws.health), service EC2, category `scheduledChange` → scheduled-maintenance for each
  affected instance, deadline = the event's start time.

Every message is deleted once read: handled, ignored, or malformed (logged with its id, never raised), so a bad
message cannot block the queue or crash the daemon. A notice deleted here lives on in the loop's memory; if the
process dies before acting, the instance's disappearance is caught by registration and garbage collection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from luna_autoscaler.ports import Clock, InterruptionKind, InterruptionNotice
from providers.aws.classify import classified, from_botocore_error, from_client_error
from providers.aws.clients import AwsClient

log = structlog.get_logger(__name__)

SPOT_WARNING = "EC2 Spot Instance Interruption Warning"
REBALANCE = "EC2 Instance Rebalance Recommendation"
STATE_CHANGE = "EC2 Instance State-change Notification"
HEALTH_EVENT = "AWS Health Event"
SPOT_NOTICE_SECONDS = 120
GOING_AWAY_STATES = frozenset({"stopping", "stopped", "shutting-down", "terminated"})
MAX_BATCHES_PER_POLL = 10  # 10 × 10 messages: more than a burst of interruptions, bounded time per cycle
VISIBILITY_TIMEOUT_SECONDS = 30


class MalformedEvent(ValueError):
    """A message that is not an EventBridge event we can read."""


def _event_time(event: Mapping[str, Any]) -> datetime:
    try:
        moment = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError) as e:
        raise MalformedEvent(f"no valid 'time': {event.get('time')!r}") from e
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _instance_id(detail: Mapping[str, Any]) -> str:
    instance_id = detail.get("instance-id")
    if not isinstance(instance_id, str) or not instance_id.startswith("i-"):
        raise MalformedEvent(f"no valid detail.instance-id: {instance_id!r}")
    return instance_id


def _health_start(detail: Mapping[str, Any]) -> datetime | None:
    """AWS Health writes times as RFC 1123 ("Wed, 04 Jul 2018 01:00:00 GMT")."""
    text = detail.get("startTime")
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(str(text))
    except (TypeError, ValueError):
        try:
            moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError as e:
            raise MalformedEvent(f"detail.startTime {text!r} is not a time") from e
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def notices_from_event(body: str, received_at: datetime) -> tuple[InterruptionNotice, ...]:
    """The notices an EventBridge event carries (empty for events that need no action)."""
    try:
        event = json.loads(body)
    except ValueError as e:
        raise MalformedEvent(f"not JSON: {e}") from e
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        raise MalformedEvent("not an EventBridge event (no 'detail' object)")
    source, kind, detail = event.get("source"), event.get("detail-type"), event["detail"]
    if source == "aws.ec2" and kind == SPOT_WARNING:
        at = _event_time(event)
        deadline = at + timedelta(seconds=SPOT_NOTICE_SECONDS)
        return (InterruptionNotice(_instance_id(detail), InterruptionKind.SPOT_INTERRUPTION, received_at, deadline),)
    if source == "aws.ec2" and kind == REBALANCE:
        _event_time(event)
        return (InterruptionNotice(_instance_id(detail), InterruptionKind.REBALANCE, received_at),)
    if source == "aws.ec2" and kind == STATE_CHANGE:
        if str(detail.get("state", "")).lower() not in GOING_AWAY_STATES:
            return ()
        at = _event_time(event)
        return (InterruptionNotice(_instance_id(detail), InterruptionKind.SPOT_INTERRUPTION, received_at, at),)
    if source == "aws.health" and kind == HEALTH_EVENT:
        if detail.get("service") != "EC2" or detail.get("eventTypeCategory") != "scheduledChange":
            return ()
        entities = detail.get("affectedEntities")
        if not isinstance(entities, list):
            raise MalformedEvent("AWS Health event without an affectedEntities list")
        start = _health_start(detail)
        ids = [e.get("entityValue") for e in entities if isinstance(e, dict)]
        return tuple(
            InterruptionNotice(i, InterruptionKind.SCHEDULED_MAINTENANCE, received_at, start)
            for i in ids
            if isinstance(i, str) and i.startswith("i-")
        )
    return ()


class InterruptionQueue:
    """Drains the queue on each poll; `queue` is a queue URL or name."""

    def __init__(self, sqs: AwsClient, queue: str, clock: Clock) -> None:
        self._sqs = sqs
        self._queue = queue
        self._clock = clock
        self._url = queue if queue.startswith(("https://", "http://")) else ""

    def _queue_url(self) -> str:
        if not self._url:
            with classified(f"sqs:GetQueueUrl {self._queue}"):
                self._url = str(self._sqs.get_queue_url(QueueName=self._queue)["QueueUrl"])
        return self._url

    def poll(self) -> list[InterruptionNotice]:
        """Notices received since the last poll. An SQS error with nothing read yet is raised (classified);
        after some messages were read and deleted it is logged, and what was read is returned."""
        url = self._queue_url()
        notices: list[InterruptionNotice] = []
        for _ in range(MAX_BATCHES_PER_POLL):
            try:
                answer = self._sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=0,
                    VisibilityTimeout=VISIBILITY_TIMEOUT_SECONDS,
                )
            except (ClientError, BotoCoreError) as e:
                what = f"sqs:ReceiveMessage {self._queue}"
                error = (
                    from_client_error(e, what=what) if isinstance(e, ClientError) else from_botocore_error(e, what=what)
                )
                if not notices:
                    raise error from e
                log.warning("interruption queue read stopped early", queue=self._queue, error=str(error))
                break
            messages = answer.get("Messages") or []
            if not messages:
                break
            notices.extend(self._read(messages))
            self._delete(url, messages)
        return notices

    def _read(self, messages: Sequence[Mapping[str, Any]]) -> list[InterruptionNotice]:
        now = self._clock()
        notices: list[InterruptionNotice] = []
        for message in messages:
            try:
                found = notices_from_event(str(message.get("Body", "")), now)
            except MalformedEvent as e:
                log.warning(
                    "interruption queue: malformed message deleted",
                    queue=self._queue,
                    message_id=message.get("MessageId"),
                    error=str(e),
                )
                continue
            for notice in found:
                log.info(
                    "interruption notice",
                    instance_id=notice.instance_id,
                    kind=notice.kind.value,
                    deadline=notice.deadline.isoformat() if notice.deadline else None,
                )
            notices.extend(found)
        return notices

    def _delete(self, url: str, messages: Sequence[Mapping[str, Any]]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        try:
            answer = self._sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        except (ClientError, BotoCoreError) as e:
            log.warning("interruption queue: delete failed; the messages will come again", error=str(e))
            return
        for failed in answer.get("Failed") or []:
            log.warning("interruption queue: delete failed; the message will come again", error=failed)
