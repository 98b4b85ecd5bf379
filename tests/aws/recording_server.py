"""A local HTTP server speaking just enough AWS to serve what moto cannot: the Pricing API, the public SSM
parameters of EKS AMIs, realistic spot price history and placement groups (created, not kept). Real boto3 clients talk to it over HTTP, so their
serialisation, pagination and error parsing run for real. Every request is recorded (operation, parameters).

JSON 1.1 services are dispatched on `X-Amz-Target` (`AWSPriceListService.GetProducts`, `AmazonSSM.GetParameter`),
EC2's query protocol on the form field `Action`. `fail(operation, status, code)` queues an error answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.local_server import LocalHttpServer

FIXTURES = Path(__file__).parent / "fixtures"


_CREATED_PLACEMENT_GROUP = (
    '<?xml version="1.0" encoding="UTF-8"?><CreatePlacementGroupResponse '
    'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>ffffffff-0000-0000-0000-000000000001</requestId>'
    "<return>true</return></CreatePlacementGroupResponse>"
)


@dataclass
class Recorded:
    operation: str
    params: dict[str, Any]


@dataclass
class _Fault:
    status: int
    code: str
    message: str


@dataclass
class AwsAnswers:
    """What the server answers; tests may change these between calls."""

    price_pages: list[Path] = field(default_factory=lambda: sorted(FIXTURES.glob("get_products_us-east-1_page*.json")))
    spot_pages: list[Path] = field(
        default_factory=lambda: sorted(FIXTURES.glob("describe_spot_price_history_page*.xml"))
    )
    ssm_parameters: dict[str, str] = field(default_factory=dict)


class RecordingAwsServer:
    def __init__(self) -> None:
        self.answers = AwsAnswers()
        self.requests: list[Recorded] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._lock = threading.Lock()
        self._local = LocalHttpServer(self._respond)

    @property
    def url(self) -> str:
        return self._local.url

    def start(self) -> RecordingAwsServer:
        self._local.start()
        return self

    def stop(self) -> None:
        self._local.stop()

    def fail(self, operation: str, status: int, code: str, message: str = "injected by the test") -> None:
        with self._lock:
            self._faults.setdefault(operation, []).append(_Fault(status, code, message))

    def operations(self) -> list[str]:
        return [r.operation for r in self.requests]

    # --- answers ---------------------------------------------------------------------------------------------

    def _respond(
        self, _method: str, _path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        status, content_type, payload = self._answer(headers.get("X-Amz-Target", ""), body)
        return status, {"Content-Type": content_type}, payload

    def _answer(self, target: str, body: bytes) -> tuple[int, str, bytes]:
        if target:
            operation = target.split(".", 1)[1]
            params = json.loads(body or b"{}")
            handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
                "GetProducts": self._get_products,
                "GetParameter": self._get_parameter,
            }
        else:
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            operation = form.get("Action", "")
            params = form
        with self._lock:
            self.requests.append(Recorded(operation, params))
            queued = self._faults.get(operation)
            fault = queued.pop(0) if queued else None
        if fault is not None:
            return self._error(fault, json_protocol=bool(target))
        if operation == "CreatePlacementGroup":  # moto has no placement groups
            return 200, "text/xml", _CREATED_PLACEMENT_GROUP.encode()
        if not target:
            return 200, "text/xml", self._spot_history(params).encode()
        try:
            return 200, "application/x-amz-json-1.1", json.dumps(handlers[operation](params)).encode()
        except KeyError as e:
            return self._error(_Fault(400, "ParameterNotFound", str(e)), json_protocol=True)

    @staticmethod
    def _error(fault: _Fault, *, json_protocol: bool) -> tuple[int, str, bytes]:
        if json_protocol:
            doc = {"__type": fault.code, "message": fault.message}
            return fault.status, "application/x-amz-json-1.1", json.dumps(doc).encode()
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
            f"<Code>{fault.code}</Code><Message>{fault.message}</Message></Error></Errors>"
            "<RequestID>ffffffff-0000-0000-0000-000000000000</RequestID></Response>"
        )
        return fault.status, "text/xml", xml.encode()

    def _get_products(self, params: dict[str, Any]) -> dict[str, Any]:
        pages = [json.loads(p.read_text()) for p in self.answers.price_pages]
        token = params.get("NextToken")
        index = next((i + 1 for i, page in enumerate(pages) if page.get("NextToken") == token), 0) if token else 0
        page: dict[str, Any] = pages[index]
        return page

    def _get_parameter(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        value = self.answers.ssm_parameters[name]
        return {
            "Parameter": {
                "Name": name,
                "Type": "String",
                "Value": value,
                "Version": 1,
                "LastModifiedDate": 1764000000.0,
                "ARN": f"arn:aws:ssm:us-east-1::parameter{name}",
                "DataType": "aws:ec2:image",
            }
        }

    def _spot_history(self, params: dict[str, str]) -> str:
        pages = [p.read_text() for p in self.answers.spot_pages]
        token = params.get("NextToken")
        if not token:
            return pages[0]
        index = next(i + 1 for i, page in enumerate(pages) if f"<nextToken>{token}</nextToken>" in page)
        return pages[index]
