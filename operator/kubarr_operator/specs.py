"""Parsing a KubarrInstance's spec into the models, with a readable refusal."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from . import spec as s
from .conditions import Problem


def parse_spec(raw: dict[str, Any] | None) -> s.KubarrInstanceSpec | Problem:
    """The validated spec, or a Problem whose message names the bad field."""
    try:
        return s.KubarrInstanceSpec.model_validate(raw or {})
    except ValidationError as error:
        first = error.errors()[0]
        where = "spec." + ".".join(str(p) for p in first["loc"])
        return Problem("InvalidSpec", f"{where}: {first['msg']}; fix it and re-apply")
