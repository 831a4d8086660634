"""GitHub's REST API description as a judge of requests and responses.

The description is the cut of @octokit/openapi that scripts/update-github-openapi
writes to github-openapi.json: only the operations the project calls. A
request whose method, path, query or body the description does not allow is
a violation; so is a response body that does not fit the documented schema
of its status (fields the fake leaves out are allowed: it fills what the
project reads, not all eighty fields of a repository).

OpenAPI 3.0 is not JSON Schema: ``nullable: true`` becomes a ``null`` type
(and a ``None`` in an ``enum``) before jsonschema sees the schemas.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import referencing
import referencing.jsonschema

DESCRIPTION = Path(__file__).with_name("github-openapi.json")
_BASE = "urn:github-openapi"


def _nullable(node):
    """OpenAPI 3.0's nullable, as JSON Schema says it."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
        if "type" in node:
            node["type"] = [node["type"], "null"]
        else:
            return {"anyOf": [node, {"type": "null"}]}
    return node


def _without_required(node):
    """A response schema that allows fields left out; its oneOf becomes anyOf,
    as alternatives told apart by their required fields no longer are."""
    if isinstance(node, list):
        return [_without_required(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {"anyOf" if key == "oneOf" else key: _without_required(value)
            for key, value in node.items() if not (key == "required" and isinstance(value, list))}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict
    params: dict[tuple[str, str], dict]  # (in, name) -> parameter object


class Description:
    """The cut description, its operations and validators."""

    def __init__(self, path: Path = DESCRIPTION) -> None:
        self.document = json.loads(path.read_text("utf-8"))
        self.version = self.document["info"]["x-source"]["version"]
        requests = _nullable(self.document)
        responses = _without_required(requests)
        self._registries = {
            kind: referencing.Registry().with_resource(_BASE, referencing.Resource(doc, referencing.jsonschema.DRAFT4))
            for kind, doc in (("request", requests), ("response", responses))
        }
        self._routes: list[tuple[re.Pattern, str]] = []
        for template in self.document["paths"]:
            # {path} of contents and {ref} of git refs hold slashes.
            pattern = re.sub(r"\\\{(path|ref)\\\}", r"(?P<\1>.+)", re.escape(template))
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
            self._routes.append((re.compile(pattern + r"\Z"), template))

    def _resolve(self, node: dict) -> dict:
        while "$ref" in node:
            node = self._pointer(node["$ref"])
        return node

    def _pointer(self, ref: str) -> dict:
        node = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def operation(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | str:
        """The operation serving ``method path``, with the path's parameters; or why none does."""
        for pattern, template in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            item = self.document["paths"][template]
            if method.lower() not in item:
                return f"{method} {template} is not in GitHub's description"
            spec = item[method.lower()]
            params = {}
            for param in [*item.get("parameters", []), *spec.get("parameters", [])]:
                param = self._resolve(param)
                params[(param["in"], param["name"])] = param
            return Operation(method.upper(), template, spec, params), match.groupdict()
        return f"{method} {path} matches no path of GitHub's description"

    def _validator(self, kind: str, pointer: str) -> jsonschema.Draft4Validator:
        return jsonschema.Draft4Validator({"$ref": f"{_BASE}#{pointer}"}, registry=self._registries[kind])

    def check_request(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[Operation | None, dict, list[str]]:
        """(operation, path parameters, violations) of one request."""
        found = self.operation(method, path)
        if isinstance(found, str):
            return None, {}, [found]
        operation, path_params = found
        where = f"{operation.method} {operation.template}"
        problems = []
        for (place, name), param in operation.params.items():
            if place == "query" and param.get("required") and name not in query:
                problems.append(f"{where}: required query parameter {name} missing")
        for name, values in query.items():
            param = operation.params.get(("query", name))
            if param is None:
                problems.append(f"{where}: query parameter {name} is not in the description")
                continue
            if len(values) > 1:
                problems.append(f"{where}: query parameter {name} given {len(values)} times")
            problems += self._value(where, f"query parameter {name}", param, values[0])
        for name, value in path_params.items():
            param = operation.params.get(("path", name))
            if param is None:
                problems.append(f"{where}: path parameter {name} is not declared")
            else:
                problems += self._value(where, f"path parameter {name}", param, value)
        problems += self._body(operation, where, body)
        return operation, path_params, problems

    def _value(self, where: str, what: str, param: dict, text: str) -> list[str]:
        schema = self._resolve(param.get("schema", {}))
        value: object = text
        if schema.get("type") == "integer":
            if not re.fullmatch(r"-?[0-9]+", text):
                return [f"{where}: {what} {text!r} is not an integer"]
            value = int(text)
        elif schema.get("type") == "boolean":
            if text not in ("true", "false"):
                return [f"{where}: {what} {text!r} is not a boolean"]
            value = text == "true"
        errors = list(jsonschema.Draft4Validator(_nullable(schema)).iter_errors(value))
        return [f"{where}: {what} {text!r}: {error.message}" for error in errors]

    def _body(self, operation: Operation, where: str, body: bytes) -> list[str]:
        request_body = operation.spec.get("requestBody")
        if request_body is None:
            return [f"{where}: takes no body, got {len(body)} bytes"] if body.strip() else []
        if not body.strip():
            return [f"{where}: the body is required"] if request_body.get("required") else []
        try:
            value = json.loads(body)
        except ValueError:
            return [f"{where}: the body is not JSON"]
        pointer = self._body_pointer(operation)
        return [f"{where}: body {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                for e in self._validator("request", pointer).iter_errors(value)]

    def _body_pointer(self, operation: Operation) -> str:
        spec = self.document["paths"][operation.template][operation.method.lower()]
        ref = spec["requestBody"].get("$ref")
        escaped = operation.template.replace("~", "~0").replace("/", "~1")
        base = ref.removeprefix("#") if ref else f"/paths/{escaped}/{operation.method.lower()}/requestBody"
        return f"{base}/content/application~1json/schema"

    def check_response(self, operation: Operation, status: int, body: bytes) -> list[str]:
        """Violations of the documented response schema for ``status`` (none when undocumented)."""
        escaped = operation.template.replace("~", "~0").replace("/", "~1")
        pointer = f"/paths/{escaped}/{operation.method.lower()}/responses/{status}"
        response = operation.spec.get("responses", {}).get(str(status))
        if response is None:
            return []
        if "$ref" in response:
            pointer = response["$ref"].removeprefix("#")
            response = self._resolve(response)
        if "application/json" not in response.get("content", {}) or not body:
            return []
        value = json.loads(body)
        where = f"{operation.method} {operation.template} -> {status}"
        return [f"{where}: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                for e in self._validator("response", f"{pointer}/content/application~1json/schema").iter_errors(value)]
