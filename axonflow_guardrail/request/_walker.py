"""The shared walker: any value of a request, turned into checked text, a placeholder or a refusal.

Principle: what the provider will receive is what gets checked. The route and message readers
(`_text`, `_routes`, `_parts`) read the fields they know with their structure (so masked text
can be written back in place) and hand every other key to :func:`rest` / :func:`opaque`, which
check every string in it, read-only, and every object key that is text rather than a name.
Only a short, explicit list is never read: identifiers (``id``, ``*_id``), enum discriminators
(``type``, ``role``, ``status``), provider-signed blobs, cache controls, and credentials or
headers (which must never be sent to AxonFlow). Nothing else is skipped.

A string that is a data URL is decoded when that is faithful (`_encoded`); what cannot be read
is recorded as `Unverifiable` with a placeholder in its place (:func:`decoded`). Shapes no
provider accepts (a ``type`` that is not a string, nesting deeper than :data:`MAX_DEPTH`) raise
`MalformedRequest`: the client's error, never a reason to pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from axonflow_guardrail.request._encoded import (
    decode_text,
    is_textual,
    media_kind,
    parse_data_url,
)
from axonflow_guardrail.request._extracted import MAX_DEPTH, Collector, MalformedRequest, Path

__all__ = [
    "AUDIO",
    "FILE",
    "KEYS",
    "NON_TEXT_KEYS",
    "PLACEHOLDERS",
    "TOKENS",
    "Reader",
    "arguments",
    "check_depth",
    "decoded_content",
    "discriminator",
    "is_credential_key",
    "json_value",
    "keys",
    "name",
    "opaque",
    "read_only_text",
    "rest",
    "text",
]

#: A walker for one field: ``(collector, path, value)``.
Reader = Callable[[Collector, Path, Any], None]

IMAGE: Final = "[image]"
AUDIO: Final = "[audio]"
VIDEO: Final = "[video]"
FILE: Final = "[file]"
TOKENS: Final = "[token ids]"
PLACEHOLDERS: Final = {"image": IMAGE, "audio": AUDIO, "video": VIDEO}
#: The path key of the segment that holds an object's own keys (read-only).
KEYS: Final = "{keys}"


#: Never read, at any depth: identifiers, enum discriminators, signed or encrypted provider
#: blobs, cache controls. (Keys ending in ``_id`` are identifiers too.)
NON_TEXT_KEYS: Final = frozenset(
    {
        "id",
        "type",
        "role",
        "status",
        "index",
        "object",
        "signature",
        "encrypted_content",
        "cache_control",
        "media_type",
        "mime_type",
    }
)
#: Credentials and transport settings, never read and never sent to AxonFlow, at any depth.
_CREDENTIAL_KEYS: Final = frozenset(
    {"api_key", "api_base", "base_url", "api_version", "organization", "extra_headers", "headers"}
)
_CREDENTIAL_MARKERS: Final = (
    "api_key",
    "secret",
    "password",
    "credential",
    "access_key",
    "session_token",
    "auth_token",
    "ad_token",
)
#: An object key that reads as a name (``location``, ``budget_tokens``) rather than as text.
_NAME_LIKE_KEY: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$-]{0,63}")
#: Objects whose keys are names the model reads (JSON-schema property names): all checked.
_NAMED_MAPS: Final = frozenset({"properties", "patternProperties", "$defs", "definitions"})


def is_credential_key(key: str) -> bool:
    """A key whose value is a secret or transport setting: never read, never sent to AxonFlow."""
    lowered = key.lower()
    return lowered in _CREDENTIAL_KEYS or any(m in lowered for m in _CREDENTIAL_MARKERS)


def _skipped(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    return key in NON_TEXT_KEYS or key.endswith("_id") or is_credential_key(key)


def check_depth(path: Path) -> None:
    if len(path) > MAX_DEPTH:
        raise MalformedRequest(path[:MAX_DEPTH], f"nests deeper than {MAX_DEPTH} levels")


def discriminator(item: Mapping[str, Any], key: str, path: Path) -> str | None:
    """The ``type`` or ``role`` of an item: a string, or absent. Anything else is malformed."""
    value = item.get(key)
    if value is None or isinstance(value, str):
        return value
    raise MalformedRequest((*path, key), f"'{key}' must be a string")


def text(c: Collector, path: Path, value: str, role: str | None, *, writable: bool) -> None:
    """A string the model reads; a data URL in it is decoded (or recorded as unverifiable)."""
    parsed = parse_data_url(value) if value[:5].lower() == "data:" else None
    if parsed is None:
        c.add(path, value, role, writable)
    else:
        decoded_content(c, path, parsed.media_type, parsed.payload, role)


def opaque(c: Collector, path: Path, value: Any, role: str | None = None) -> None:
    """A value of a shape we do not model: every string in it, read-only.

    Object keys are text too: a key that does not read as a name (it has spaces or
    punctuation, or is long) is checked, and so is every key of a JSON-schema property map.

    Read-only because we cannot tell what the provider does with the field; a mask that would
    change it makes write-back fail closed instead.
    """
    check_depth(path)
    if isinstance(value, str):
        text(c, path, value, role, writable=False)
    elif isinstance(value, Mapping):
        named = bool(path) and path[-1] in _NAMED_MAPS
        keys(c, path, value, (), role, every=named)
        for key in sorted(value, key=str):
            if not _skipped(key):
                opaque(c, (*path, key), value[key], role)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            opaque(c, (*path, index), item, role)
    elif hasattr(value, "model_dump"):
        opaque(c, path, value.model_dump(), role)
    elif isinstance(value, bytes | bytearray | memoryview) or hasattr(value, "read"):
        c.unverifiable(path, "binary_file", FILE, role)  # raw bytes, an uploaded file
    # Anything else is an object of LiteLLM's own plumbing (an HTTP session, a logging object,
    # a callable) that it puts into the request data: not request content, which a client can
    # only send as JSON or form fields.


def keys(
    c: Collector,
    path: Path,
    value: Mapping[Any, Any],
    known: Iterable[str],
    role: str | None,
    *,
    every: bool = False,
) -> None:
    """An object's own keys, as one read-only segment: a key is text the model may read too.

    `every`: all keys (tool arguments, schema property names); otherwise only keys that do not
    read as names, so a free-text key is checked without listing every field name.
    """
    handled = frozenset(known)
    names = sorted(
        str(key)
        for key in value
        if key not in handled
        and not _skipped(key)
        and (every or not (isinstance(key, str) and _NAME_LIKE_KEY.fullmatch(key)))
    )
    if names:
        c.add((*path, KEYS), "\n".join(names), role, False)


def rest(
    c: Collector,
    path: Path,
    item: Mapping[str, Any],
    known: Iterable[str],
    role: str | None,
    *,
    payload: Iterable[str] = (),
) -> None:
    """Every key of `item` that its structured reader did not handle, read like `opaque`.

    `payload` keys hold media or references (a URL, base64 data, a format name) when their
    value is a string, and are then not text; any other value there is read like the rest.
    """
    handled = frozenset(known)
    payload_keys = frozenset(payload)
    keys(c, path, item, handled | payload_keys, role)
    for key in sorted(item, key=str):
        if key in handled or _skipped(key):
            continue
        value = item[key]
        if key in payload_keys and isinstance(value, str):
            continue
        opaque(c, (*path, key), value, role)


def read_only_text(c: Collector, path: Path, value: Any, role: str | None) -> None:
    if isinstance(value, str):
        text(c, path, value, role, writable=False)
    elif value is not None:
        opaque(c, path, value, role)


def name(c: Collector, path: Path, value: Any, role: str | None) -> None:
    """A function, tool or participant name: checked, never rewritten (it must match a schema)."""
    read_only_text(c, path, value, role)


def json_value(c: Collector, path: Path, value: Any, role: str | None) -> None:
    """Values of a structured tool input (Anthropic ``tool_use.input``, MCP arguments).

    Strings are writable in place; numbers and keys are read-only (a mask would change their
    type, or the schema).
    """
    check_depth(path)
    if isinstance(value, str):
        c.add(path, value, role, True)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        c.add(path, str(value), role, False)
    elif isinstance(value, Mapping):
        keys(c, path, value, (), role, every=True)
        for key in sorted(value, key=str):
            if isinstance(key, str):
                json_value(c, (*path, key), value[key], role)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            json_value(c, (*path, index), item, role)
    else:
        opaque(c, path, value, role)


def arguments(c: Collector, path: Path, value: Any, role: str | None) -> None:
    """Tool-call arguments: a JSON string (writable as a whole) or, from lax clients, a dict."""
    if isinstance(value, str):
        c.add(path, value, role, True)
    else:
        json_value(c, path, value, role)


def decoded_content(
    c: Collector, path: Path, media_type: str, payload: bytes | None, role: str | None
) -> None:
    """Content of a declared media type: text when it is text, else a placeholder."""
    kind = media_kind(media_type)
    if kind is not None:
        c.add(path, PLACEHOLDERS[kind], role, False)
        return
    decoded = decode_text(media_type, payload)
    if decoded is not None:
        c.add(path, decoded, role, False)
    elif is_textual(media_type):
        c.unverifiable(path, "undecodable_text", FILE, role)
    else:
        c.unverifiable(path, "binary_file", FILE, role)
