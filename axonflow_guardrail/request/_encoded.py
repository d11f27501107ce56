"""Encoded content in requests: data URLs and base64 payloads, decoded only when faithful.

Why: a base64 ``text/plain`` file or a ``data:text/plain,...`` URL carries text to the model
just as a message does; checking it as a ``[file]`` placeholder would let any text past the
check. What decodes to text (a textual media type, valid in its charset) is checked as text;
what cannot (PDFs, images, audio, invalid encodings) is reported so the caller can refuse it or
let a placeholder stand. The standard library does all the decoding (`base64`, `urllib.parse`);
this module only decides what counts as text.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_to_bytes

__all__ = [
    "DataUrl",
    "decode_base64_text",
    "decode_text",
    "is_textual",
    "media_kind",
    "parse_data_url",
]

_TEXTUAL_APPLICATION_TYPES: Final = frozenset(
    {
        "application/json",
        "application/ld+json",
        "application/x-ndjson",
        "application/jsonl",
        "application/xml",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "application/sql",
        "application/x-sh",
        "application/x-httpd-php",
        "application/csv",
        "application/rtf",
        "application/x-tex",
        "application/graphql",
    }
)
_MEDIA_PREFIXES: Final = ("image/", "audio/", "video/")
#: RFC 2397, strictly: "data:" followed at once by an optional media type, parameters, an
#: optional ";base64" and the comma. "Data: see below, ..." is prose, not a data URL.
_DATA_URL: Final = re.compile(
    r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[\w.+-]+=[^;,\s]*)*)(?P<b64>;base64)?,",
    re.IGNORECASE,
)


def _base_type(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def is_textual(media_type: str) -> bool:
    """Is content of this media type text (so it can be decoded and checked as text)?"""
    base = _base_type(media_type)
    return (
        base.startswith("text/")
        or base in _TEXTUAL_APPLICATION_TYPES
        or base.endswith(("+json", "+xml", "+yaml"))
    )


def media_kind(media_type: str) -> str | None:
    """``image``, ``audio`` or ``video`` for those media types, else None."""
    base = _base_type(media_type)
    for prefix in _MEDIA_PREFIXES:
        if base.startswith(prefix):
            return prefix[:-1]
    return None


def _charset(media_type: str) -> str:
    for param in media_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"


@dataclass(frozen=True, slots=True)
class DataUrl:
    """A parsed ``data:`` URL. ``payload`` is None when the data part does not decode."""

    media_type: str
    payload: bytes | None


def parse_data_url(value: str) -> DataUrl | None:
    """RFC 2397: ``data:[<media type>][;base64],<data>``. None when `value` is no data URL."""
    match = _DATA_URL.match(value)
    if match is None:
        return None
    media_type = (match["type"] or "text/plain") + (match["params"] or "")
    data = value[match.end() :]
    if match["b64"]:
        return DataUrl(media_type=media_type, payload=_b64(data))
    return DataUrl(media_type=media_type, payload=unquote_to_bytes(data))


def _b64(data: str) -> bytes | None:
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def decode_text(media_type: str, payload: bytes | None) -> str | None:
    """The text of a textual payload, or None when it is not text or not valid in its charset."""
    if payload is None or not is_textual(media_type):
        return None
    charset = _charset(media_type)
    try:
        codecs.lookup(charset)
        return payload.decode(charset)  # strict: a wrong byte is not silently dropped
    except (LookupError, UnicodeDecodeError):
        return None


def decode_base64_text(data: str, media_type: str) -> str | None:
    """Base64 `data` of a declared media type, as text when it is textual and decodes."""
    return decode_text(media_type, _b64(data))
