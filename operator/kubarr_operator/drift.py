"""Does a live object already hold everything we would apply?

The API server adds defaults and other managers add their own fields, so the
question is not equality but containment: every field the operator sets must
be present with the same value. When it is, the reconciler sends nothing, which
is what keeps a no-op resync free of writes.

Lists whose items carry a ``name`` (containers, env, volumes, ports, owner
references) are matched by name, the way server-side apply merges them, so an
entry another manager added does not count as drift. Other lists must be equal.
"""

from __future__ import annotations

from typing import Any

IGNORED_METADATA = {"resourceVersion", "uid", "generation", "creationTimestamp"}


# Limitation: fields that another manager adds (an extra env var, an
# annotation) are left alone, the way server-side apply shares an object.
def contains(desired: Any, live: Any) -> bool:
    """True when ``live`` holds every field and value of ``desired``."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(
            contains(value, live[key]) if key in live else _dropped(value)
            for key, value in desired.items()
        )
    if isinstance(desired, list):
        return _list_contains(desired, live)
    return bool(desired == live)


def _dropped(value: Any) -> bool:
    """The API server does not store empty lists, maps and strings, or nulls."""
    return value is None or value in ([], {}, "")


def _list_contains(desired: list[Any], live: Any) -> bool:
    if not isinstance(live, list):
        return not desired and live is None
    if desired and all(isinstance(i, dict) and "name" in i for i in desired):
        by_name = {i.get("name"): i for i in live if isinstance(i, dict)}
        return all(
            item["name"] in by_name and contains(item, by_name[item["name"]])
            for item in desired
        )
    if len(desired) != len(live):
        return False
    return all(contains(d, v) for d, v in zip(desired, live, strict=True))


def first_difference(desired: Any, live: Any, path: str = "") -> str | None:
    """The path of the first field that differs, for logs and events."""
    if isinstance(desired, dict) and isinstance(live, dict):
        for key, value in desired.items():
            if key not in live:
                return f"{path}.{key}"
            found = first_difference(value, live[key], f"{path}.{key}")
            if found:
                return found
        return None
    if contains(desired, live):
        return None
    return path or "."
