"""What extraction produces: text segments with their paths, what could not be read, and why.

Kept apart from the walkers so that the write-back code (`_request_rewrite`), the pre-check and
the walkers share one small vocabulary: a `TextSegment` is one piece of text and where it
lives in the request; an `Unverifiable` is content the guardrail can see but not read (binary
files, token ids, remote files); `MalformedRequest` is a shape no provider accepts, which the
guardrail refuses as the client's error instead of guessing.

Everything here is pure and on the hot path of every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = [
    "EMPTY_QUERY_PLACEHOLDER",
    "MAX_DEPTH",
    "SEGMENT_MARKER",
    "SEGMENT_SEPARATOR",
    "Collector",
    "ExtractedText",
    "FieldNotAllowed",
    "MalformedRequest",
    "Path",
    "PathKey",
    "RequestNotCheckable",
    "TextSegment",
    "Unverifiable",
    "show_path",
]

PathKey: TypeAlias = str | int
Path: TypeAlias = tuple[PathKey, ...]

#: The marker character inside the separator; never produced by PII maskers.
SEGMENT_MARKER: Final = "\u241e"
#: Joins segments in the pre-check query: the marker on a line of its own.
SEGMENT_SEPARATOR: Final = f"\n{SEGMENT_MARKER}\n"
#: The query sent when a request carries no segment at all (nothing to read).
EMPTY_QUERY_PLACEHOLDER: Final = "[non-text content]"
#: Deepest path walked. The walkers recurse; no real request nests this deep, and a request that
#: does is refused as malformed instead of raising RecursionError.
MAX_DEPTH: Final = 100

_SEPARATOR_LEN: Final = len(SEGMENT_SEPARATOR)


def show_path(path: Path) -> str:
    """`messages[0].content[1].text`: a path for error messages (names only, never text)."""
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path).lstrip(".")


class RequestNotCheckable(Exception):
    """The request cannot be checked as it is: the client's error (400), never a pass.

    Nothing about AxonFlow's availability, so `fail_open` does not apply. `reason` names the
    path and the problem, never the request's text; `code` is the client-facing error code.
    """

    code = "malformed_request"

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        where = show_path(path) or "the request body"
        self.reason = f"{where}: {problem}"
        super().__init__(self.reason)


class MalformedRequest(RequestNotCheckable):
    """A shape the guardrail cannot read and no provider accepts (a non-string ``type``, ...)."""


class FieldNotAllowed(RequestNotCheckable):
    """A field that would replace or add prompt text after the check (``extra_body.messages``)."""

    code = "field_not_allowed"


@dataclass(frozen=True, slots=True)
class TextSegment:
    """One piece of request text and where it lives in the request.

    ``path`` is the sequence of dict keys and list indexes that leads from the request ``data``
    to the string, e.g. ``("messages", 2, "content", 0, "text")``. ``writable`` says whether
    masked text may replace it in place (see `_request_text`'s docstring for the rules).
    """

    path: Path
    text: str
    role: str | None
    writable: bool


@dataclass(frozen=True, slots=True)
class Unverifiable:
    """Content the guardrail sees but cannot turn into text faithfully.

    `kind` is one of ``token_ids`` (a pre-tokenised prompt), ``binary_file`` (a file of a
    non-text media type), ``file_reference`` (a previously uploaded file, by id), ``remote_file``
    (a file the provider fetches from a URL) or ``undecodable_text`` (declared text that is not
    valid in its charset). The caller refuses the request or lets the placeholder stand.
    """

    path: Path
    kind: str


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """All the text of one request, in a stable order, ready to be checked and masked."""

    segments: tuple[TextSegment, ...]
    truncated: bool
    total_chars: int
    unverifiable: tuple[Unverifiable, ...] = ()

    def joined(self) -> str:
        """The pre-check query: segment texts joined by :data:`SEGMENT_SEPARATOR`.

        Never empty, because the platform rejects an empty query and an image-only request must
        still be checked (and audited) as a request.
        """
        if not self.segments:
            return EMPTY_QUERY_PLACEHOLDER
        return SEGMENT_SEPARATOR.join(segment.text for segment in self.segments)


class Collector:
    """Accumulates segments in order and applies the ``max_chars`` bound while counting.

    ``max_chars`` bounds ``len(joined())``, separators included (``<= 0``: unbounded). Past the
    bound the collector stops *storing* segments but keeps counting, so ``total_chars`` reports
    the whole query's length and the caller can refuse the request as too large to check.
    """

    __slots__ = ("_count", "_full", "_max_chars", "_segments", "_total", "_unverifiable")

    def __init__(self, max_chars: int) -> None:
        self._max_chars = max_chars
        self._segments: list[TextSegment] = []
        self._unverifiable: list[Unverifiable] = []
        self._total = 0
        self._count = 0
        self._full = False

    @property
    def count(self) -> int:
        """Segments seen so far, stored or not (used to tell whether a walk found anything)."""
        return self._count

    def add(self, path: Path, text: str, role: str | None, writable: bool) -> None:
        """Count one segment and keep it unless the bound has been passed."""
        if not text:
            return
        self._total += len(text) + (_SEPARATOR_LEN if self._count else 0)
        self._count += 1
        if self._full:
            return
        if 0 < self._max_chars < self._total:
            self._full = True
            return
        self._segments.append(TextSegment(path, text, role, writable))

    def unverifiable(self, path: Path, kind: str, placeholder: str, role: str | None) -> None:
        """Record content that cannot be read, and check its placeholder in its place."""
        self._unverifiable.append(Unverifiable(path, kind))
        self.add(path, placeholder, role, False)

    def result(self) -> ExtractedText:
        return ExtractedText(
            tuple(self._segments), self._full, self._total, tuple(self._unverifiable)
        )
