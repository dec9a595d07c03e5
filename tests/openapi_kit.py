"""Reading the served OpenAPI document in tests: operations, and validators for their documented bodies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def query(self) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == "query"]

    @property
    def path_params(self) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == "path"]


def operations(doc: dict[str, Any]) -> Iterator[Operation]:
    for path, item in doc["paths"].items():
        for method, spec in item.items():
            yield Operation(method.upper(), path, spec)


def body_validator(doc: dict[str, Any], op: Operation, status: int) -> Draft202012Validator:
    """A validator for the documented JSON body of ``op`` answering ``status``."""
    responses = op.spec["responses"]
    response = responses.get(str(status))
    assert response is not None, f"{op.method} {op.path} does not document status {status}"
    schema = response["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": doc["components"]}, format_checker=FormatChecker())


def problems(validator: Draft202012Validator, body: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
