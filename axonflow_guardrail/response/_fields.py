"""Read and write a field on whatever LiteLLM hands us: a dict or a pydantic/litellm object.

Responses, chunks and events arrive as either, depending on the route and on whether they
were already serialised; one pair of helpers keeps the walkers free of that distinction.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ["get_field", "set_field"]


def get_field(obj: Any, key: str) -> Any:
    """`obj[key]` for mappings, `obj.key` for objects, else None."""
    if type(obj) is dict or isinstance(obj, Mapping):  # the plain dict first: no ABC check
        return obj.get(key)
    return getattr(obj, key, None)


def set_field(obj: Any, key: str, value: Any) -> None:
    if isinstance(obj, MutableMapping):
        obj[key] = value
    else:
        setattr(obj, key, value)
