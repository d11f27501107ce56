"""Media and files inside content: placeholders, decoded text, or unverifiable content.

Images, audio and video stay placeholders (`[image]`, `[audio]`, `[video]`) unless their data
URL is really text. Files (OpenAI chat ``file``, Responses ``input_file``, Anthropic
``document`` and ``image`` sources) are decoded when they are text (`_encoded`); a binary file,
an uploaded-file id or a remote file cannot be read and is recorded as unverifiable. The payload
(URL, base64 data, format name) is not text when it is a string; anything else next to it is
read like every unknown key (`_walker.rest`).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Mapping
from typing import Any, Final

from axonflow_guardrail.request._encoded import (
    decode_base64_text,
    is_textual,
    media_kind,
    parse_data_url,
)
from axonflow_guardrail.request._extracted import Collector, Path
from axonflow_guardrail.request._walker import (
    FILE,
    PLACEHOLDERS,
    decoded_content,
    opaque,
    read_only_text,
    rest,
    text,
)

__all__ = ["MEDIA_OBJECT_KEYS", "MEDIA_TYPES", "file", "media"]


def file(c: Collector, path: Path, attachment: Any, role: str | None) -> None:
    """An attached file: OpenAI chat ``file``, Responses ``input_file``.

    ``file_data`` (a data URL, or base64 with ``format`` / a file name saying its type) is
    decoded when it is text; ``file_id`` and ``file_url`` cannot be read here.
    """
    if not isinstance(attachment, Mapping):
        if isinstance(attachment, str):
            text(c, path, attachment, role, writable=False)
        else:
            opaque(c, path, attachment, role)
        return
    read_only_text(c, (*path, "filename"), attachment.get("filename"), role)
    data = attachment.get("file_data")
    found = False
    if isinstance(data, str) and data:
        found = True
        parsed = parse_data_url(data)
        if parsed is not None:
            decoded_content(c, (*path, "file_data"), parsed.media_type, parsed.payload, role)
        else:
            media_type = _declared_type(attachment)
            as_text = decode_base64_text(data, media_type) if media_type else None
            kind = media_kind(media_type) if media_type else None
            if as_text is not None:
                c.add((*path, "file_data"), as_text, role, False)
            elif kind is not None:
                c.add((*path, "file_data"), PLACEHOLDERS[kind], role, False)
            else:
                c.unverifiable((*path, "file_data"), "binary_file", FILE, role)
    elif data is not None:
        opaque(c, (*path, "file_data"), data, role)
    if isinstance(attachment.get("file_id"), str):
        found = True
        c.unverifiable((*path, "file_id"), "file_reference", FILE, role)
    if isinstance(attachment.get("file_url"), str):
        found = True
        c.unverifiable((*path, "file_url"), "remote_file", FILE, role)
    if not found:
        c.add(path, FILE, role, False)
    rest(c, path, attachment, ("filename", "file_data"), role, payload=("file_url", "format"))


def _declared_type(attachment: Mapping[str, Any]) -> str | None:
    for key in ("format", "mime_type", "media_type"):
        value = attachment.get(key)
        if isinstance(value, str) and "/" in value:
            return value
    filename = attachment.get("filename")
    if isinstance(filename, str):
        return mimetypes.guess_type(filename, strict=False)[0]
    return None


def media(c: Collector, path: Path, part: Mapping[str, Any], kind: str, role: str | None) -> None:
    """An image, audio or video part: a placeholder, unless its data URL is really text.

    The payload itself (URL, base64 data, format) is not text; any other key in the payload
    object is read like every unknown key.
    """
    placeholder = True
    for payload in _payload_strings(part):
        parsed = parse_data_url(payload)
        if parsed is not None and is_textual(parsed.media_type):
            decoded_content(c, path, parsed.media_type, parsed.payload, role)
            placeholder = False
            break
    if placeholder:
        c.add(path, PLACEHOLDERS[kind], role, False)
    for key in MEDIA_OBJECT_KEYS:
        value = part.get(key)
        if isinstance(value, Mapping):
            rest(c, (*path, key), value, (), role, payload=MEDIA_PAYLOAD_KEYS)


def _payload_strings(part: Mapping[str, Any]) -> Iterable[str]:
    for key in ("image_url", "url", "audio_url", "video_url"):
        value = part.get(key)
        if isinstance(value, str):
            yield value
        elif isinstance(value, Mapping) and isinstance(value.get("url"), str):
            yield value["url"]


#: The parts of a media payload object that are the media itself (never text).
MEDIA_PAYLOAD_KEYS: Final = ("url", "data", "format", "detail")


#: Where a media part keeps its payload object (the part's `type` names it).
MEDIA_OBJECT_KEYS: Final = (
    "image_url",
    "input_audio",
    "audio_url",
    "audio",
    "video_url",
    "video",
    "input_image",
)


MEDIA_TYPES: Final = {
    "image_url": "image",
    "input_image": "image",
    "input_audio": "audio",
    "audio_url": "audio",
    "audio": "audio",
    "video_url": "video",
    "video": "video",
}
