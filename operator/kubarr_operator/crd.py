"""Generate the KubarrInstance CRD from the pydantic models in :mod:`.spec`.

The generator walks the models itself instead of post-processing pydantic's
JSON Schema: a structural schema for Kubernetes has no ``$ref``, no ``anyOf``
for optional fields, and needs ``default: {}`` on nested objects so that the
API server fills in their defaults. The walk covers exactly the types the spec
uses and fails loudly on anything else.

Run ``python -m kubarr_operator.crd > crds/kubarr.io_kubarrinstances.yaml``
(``make crds``) after changing :mod:`.spec`.
"""

from __future__ import annotations

import enum
import sys
import types
import typing
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from . import spec as s

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {"name": "Version", "type": "string", "jsonPath": ".status.version"},
    {"name": "Backup", "type": "string", "jsonPath": ".status.backup"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {
        "name": "Reason",
        "type": "string",
        "priority": 1,
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
    },
    {
        "name": "Endpoint",
        "type": "string",
        "priority": 1,
        "jsonPath": ".status.endpoint",
    },
    {
        "name": "Storage",
        "type": "string",
        "priority": 1,
        "jsonPath": ".spec.storage.size",
    },
    {
        "name": "Engine",
        "type": "string",
        "priority": 1,
        "jsonPath": ".spec.database.engine",
    },
]


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        return members[0]
    return annotation


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        # {} lets the API server fill in the nested defaults; a factory that
        # sets values of its own (resource requests) must spell them out.
        if value == type(value)():
            return {}
        return value.model_dump(by_alias=True, exclude_none=True, mode="json")
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _constraints(field: FieldInfo, schema: dict[str, Any]) -> None:
    is_array = schema.get("type") == "array"
    is_string = schema.get("type") == "string"
    for item in field.metadata:
        if isinstance(item, annotated_types.MinLen):
            schema["minItems" if is_array else "minLength"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            if is_array:
                schema["maxItems"] = item.max_length
            elif is_string:
                schema["maxLength"] = item.max_length
            else:
                schema["maxProperties"] = item.max_length
        elif isinstance(item, annotated_types.Ge):
            schema["minimum"] = item.ge
        elif isinstance(item, annotated_types.Le):
            schema["maximum"] = item.le
        elif getattr(item, "pattern", None):
            schema["pattern"] = item.pattern


def type_schema(annotation: Any) -> dict[str, Any]:
    """The OpenAPI v3 schema of one Python type used in the spec."""
    annotation = _unwrap_optional(annotation)
    origin = typing.get_origin(annotation)

    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer", "format": "int64"}
    if annotation is str:
        return {"type": "string"}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"type": "string", "enum": [m.value for m in annotation]}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_schema(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return {"type": "array", "items": type_schema(item)}
    if origin is dict:
        key, value = typing.get_args(annotation)
        if key is not str:
            raise TypeError(f"map keys must be strings: {annotation!r}")
        return {"type": "object", "additionalProperties": type_schema(value)}
    raise TypeError(f"no CRD schema for {annotation!r}")


def field_schema(field: FieldInfo) -> dict[str, Any]:
    schema = type_schema(field.annotation)
    _constraints(field, schema)
    if field.description:
        schema["description"] = field.description

    if field.default_factory is not None:
        schema["default"] = _json_default(field.default_factory())  # type: ignore[call-arg]
    elif field.default is not PydanticUndefined and field.default is not None:
        schema["default"] = _json_default(field.default)

    extra = field.json_schema_extra
    if isinstance(extra, dict):
        for key, value in extra.items():
            if isinstance(value, list):
                schema[key] = list(schema.get(key, [])) + value
            else:
                schema[key] = value
    return schema


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in model.model_fields.items():
        wire_name = field.alias or name
        properties[wire_name] = field_schema(field)
        if field.is_required():
            required.append(wire_name)

    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if model.__doc__ and model.__module__ == s.__name__ and model.__doc__.strip():
        schema["description"] = " ".join(model.__doc__.split())
    extra = model.model_config.get("json_schema_extra")
    if isinstance(extra, dict):
        schema.update(extra)
    return schema


def status_schema() -> dict[str, Any]:
    schema = model_schema(s.KubarrInstanceStatus)
    conditions = schema["properties"]["conditions"]
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]
    conditions.pop("default", None)
    return schema


def build_crd() -> dict[str, Any]:
    """The CustomResourceDefinition manifest for KubarrInstance."""
    spec_schema = model_schema(s.KubarrInstanceSpec)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{s.PLURAL}.{s.GROUP}"},
        "spec": {
            "group": s.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": s.KIND,
                "listKind": f"{s.KIND}List",
                "plural": s.PLURAL,
                "singular": s.SINGULAR,
                "shortNames": s.SHORT_NAMES,
                "categories": ["kubarr"],
            },
            "versions": [
                {
                    "name": s.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            # The name becomes part of Service, StatefulSet and
                            # CronJob names, whose own limits are stricter.
                            "x-kubernetes-validations": [
                                {
                                    "rule": "self.metadata.name.size() <= 40 && "
                                    "self.metadata.name.matches("
                                    "'^[a-z]([-a-z0-9]*[a-z0-9])?$')",
                                    "message": "metadata.name must start with a "
                                    "letter, hold only lower-case letters, digits "
                                    "and '-', and be at most 40 characters: it "
                                    "names the instance's Services and CronJobs",
                                }
                            ],
                            "description": "One Kubarr installation: the app on "
                            "SQLite, replicated by Litestream, in one pod.",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": {**spec_schema, "default": {}},
                                "status": status_schema(),
                            },
                        }
                    },
                }
            ],
        },
    }


def render() -> str:
    header = (
        "# Generated by `python -m kubarr_operator.crd` from "
        "operator/kubarr_operator/spec.py.\n# Do not edit by hand: run `make crds`.\n"
    )
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=88)


if __name__ == "__main__":
    sys.stdout.write(render())
