"""A fault layer at our own seam: wraps one real boto3 client inside `AwsClients`.

Every call is recorded with its parameters and goes to the real client (moto), unless the test planned
otherwise for that operation: raise an AWS error shaped exactly as botocore raises it (`fail_next`), answer
without calling AWS (`answer_next`), or call AWS and then edit its answer (`edit_next`, e.g. to add the
per-override errors of a partial fleet). Paginators and `meta` are the real client's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

Answer = dict[str, Any]


def aws_error(operation: str, code: str, message: str = "injected", status: int = 400) -> ClientError:
    """The exception botocore raises for an AWS error answer."""
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 0},
    }
    return ClientError(response, operation)


@dataclass
class Call:
    operation: str
    params: dict[str, Any]


@dataclass
class FaultLayer:
    client: Any
    calls: list[Call] = field(default_factory=list)
    _plans: dict[str, list[Callable[[Callable[[], Answer]], Answer]]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name.startswith("_") or name in ("get_paginator", "can_paginate", "meta", "exceptions"):
            return attribute
        if not callable(attribute):
            return attribute

        def call(**params: Any) -> Answer:
            self.calls.append(Call(name, params))
            plans = self._plans.get(name)
            real: Callable[[], Answer] = lambda: attribute(**params)  # noqa: E731
            return plans.pop(0)(real) if plans else real()

        return call

    def called(self, operation: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.operation == operation]

    def _plan(self, operation: str, plan: Callable[[Callable[[], Answer]], Answer]) -> None:
        self._plans.setdefault(operation, []).append(plan)

    def fail_next(self, operation: str, code: str, message: str = "injected", status: int = 400) -> None:
        def fail(_: Callable[[], Answer]) -> Answer:
            raise aws_error(_operation_name(operation), code, message, status)

        self._plan(operation, fail)

    def answer_next(self, operation: str, answer: Answer) -> None:
        self._plan(operation, lambda _: answer)

    def edit_next(self, operation: str, edit: Callable[[Answer], Answer]) -> None:
        self._plan(operation, lambda real: edit(real()))


def _operation_name(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_"))


class Stockouts:
    """EC2 with no capacity in some pools (type × zone × capacity type), answering CreateFleet as AWS does: the
    stocked-out overrides come back as `InsufficientInstanceCapacity` errors, the others are tried for real."""

    def __init__(self, ec2: Any, zone_of_subnet: dict[str, str]) -> None:
        self._ec2 = ec2
        self._zone_of_subnet = zone_of_subnet
        self.exhausted: set[tuple[str, str, str]] = set()  # (instance type, zone, capacity type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ec2, name)

    def create_fleet(self, **params: Any) -> Answer:
        lifecycle = params["TargetCapacitySpecification"]["DefaultTargetCapacityType"]
        errors: list[dict[str, Any]] = []
        configs = []
        for config in params["LaunchTemplateConfigs"]:
            kept = []
            for override in config["Overrides"]:
                pool = (override["InstanceType"], self._zone_of_subnet[override["SubnetId"]], lifecycle)
                if pool in self.exhausted:
                    errors.append(
                        {
                            "LaunchTemplateAndOverrides": {
                                "LaunchTemplateSpecification": config["LaunchTemplateSpecification"],
                                "Overrides": override,
                            },
                            "Lifecycle": lifecycle,
                            "ErrorCode": "InsufficientInstanceCapacity",
                            "ErrorMessage": f"We currently do not have sufficient {pool[0]} capacity in {pool[1]}.",
                        }
                    )
                else:
                    kept.append(override)
            if kept:
                configs.append({**config, "Overrides": kept})
        if not configs:
            return {"FleetId": "fleet-stockout", "Instances": [], "Errors": errors}
        answer: Answer = self._ec2.create_fleet(**{**params, "LaunchTemplateConfigs": configs})
        answer["Errors"] = [*errors, *answer.get("Errors", [])]
        return answer
