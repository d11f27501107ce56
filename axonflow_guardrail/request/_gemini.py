"""Google ``generateContent`` requests: ``contents[].parts[]`` and ``system_instruction``.

Gemini parts carry no ``type``: text, inline data (decoded when it is text, a placeholder for
media, unverifiable otherwise) and file data (a remote file) are told apart by their keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonflow_guardrail.request._encoded import decode_base64_text, is_textual, media_kind
from axonflow_guardrail.request._extracted import Collector, Path
from axonflow_guardrail.request._parts import content, input_like
from axonflow_guardrail.request._walker import FILE, opaque, rest, text

__all__ = ["gemini_contents", "gemini_instruction"]


def gemini_contents(c: Collector, path: Path, value: Any) -> None:
    """Google ``contents[].parts[]``: text, inline data, file data, function calls."""
    if not isinstance(value, list | tuple):
        if value is not None:
            opaque(c, path, value, "user")
        return
    for index, turn in enumerate(value):
        tpath = (*path, index)
        if not isinstance(turn, Mapping):
            input_like(c, tpath, turn)
            continue
        role = turn.get("role") if isinstance(turn.get("role"), str) else "user"
        _gemini_parts(c, (*tpath, "parts"), turn.get("parts"), role)
        rest(c, tpath, turn, ("parts",), role)


def gemini_instruction(c: Collector, path: Path, value: Any) -> None:
    if isinstance(value, Mapping):
        _gemini_parts(c, (*path, "parts"), value.get("parts"), "system")
        rest(c, path, value, ("parts",), "system")
    else:
        content(c, path, value, "system")


def _gemini_parts(c: Collector, path: Path, parts: Any, role: str | None) -> None:
    if not isinstance(parts, list | tuple):
        content(c, path, parts, role)
        return
    for index, part in enumerate(parts):
        ppath = (*path, index)
        if not isinstance(part, Mapping):
            part(c, ppath, part, role)
            continue
        handled: list[str] = []
        if isinstance(part.get("text"), str):
            text(c, (*ppath, "text"), part["text"], role, writable=True)
            handled.append("text")
        for key in ("inline_data", "inlineData"):
            if isinstance(part.get(key), Mapping):
                _gemini_inline(c, (*ppath, key), part[key], role)
                handled.append(key)
        for key in ("file_data", "fileData"):
            if isinstance(part.get(key), Mapping):
                _gemini_file(c, (*ppath, key), part[key], role)
                handled.append(key)
        rest(c, ppath, part, handled, role)


def _gemini_mime(blob: Mapping[str, Any]) -> str:
    mime = blob.get("mime_type", blob.get("mimeType"))
    return mime if isinstance(mime, str) else ""


def _gemini_inline(c: Collector, path: Path, blob: Mapping[str, Any], role: str | None) -> None:
    mime, data = _gemini_mime(blob), blob.get("data")
    kind = media_kind(mime)
    decoded = decode_base64_text(data, mime) if isinstance(data, str) else None
    if kind is not None:
        c.add(path, f"[{kind}]", role, False)
    elif decoded is not None:
        c.add((*path, "data"), decoded, role, False)
    else:
        kind_name = "undecodable_text" if is_textual(mime) else "binary_file"
        c.unverifiable((*path, "data"), kind_name, FILE, role)
    rest(c, path, blob, ("mime_type", "mimeType", "data"), role)


def _gemini_file(c: Collector, path: Path, blob: Mapping[str, Any], role: str | None) -> None:
    kind = media_kind(_gemini_mime(blob))
    if kind is not None:
        c.add(path, f"[{kind}]", role, False)
    else:
        c.unverifiable(path, "remote_file", FILE, role)
    rest(c, path, blob, ("mime_type", "mimeType", "file_uri", "fileUri"), role)
