"""Which LiteLLM release is running, and what the guardrail can rely on in it.

The package supports a tested range of LiteLLM releases (pyproject.toml, README "Compatibility").
The few places where releases differ are answered here, once, so the rest of the package
imports one name and never tests versions itself:

- `metadata_bucket`: LiteLLM's own helper (newer releases) for the request's proxy-internal
  metadata dict, or the same rule done here on releases that lack it.
- `check_litellm_release`: called from the guardrail's constructor; logs the release once and
  says at startup, not at request time, when a configured mode or feature needs a newer one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from axonflow_guardrail._log import log

__all__ = [
    "DIFFERENCES",
    "FLOOR",
    "Difference",
    "LiteLLMRelease",
    "check_litellm_release",
    "differences_for",
    "litellm_release",
    "metadata_bucket",
]

#: The oldest release the end-to-end core passed on (`make compat`); pyproject's floor.
FLOOR = (1, 84, 0)
#: Releases a resolver must never pick (compromised); pyproject excludes them too.
COMPROMISED = frozenset({(1, 82, 7), (1, 82, 8), (1, 107, 0)})

BucketName = Literal["metadata", "litellm_metadata"]


@dataclass(frozen=True, slots=True)
class LiteLLMRelease:
    text: str
    numbers: tuple[int, ...]

    @property
    def compromised(self) -> bool:
        return self.numbers[:3] in COMPROMISED

    @property
    def below_floor(self) -> bool:
        return self.numbers[:3] < FLOOR


def _numbers(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit()) or "0"
        parts.append(int(digits))
    return tuple(parts)


@functools.cache
def litellm_release() -> LiteLLMRelease:
    """The installed `litellm` distribution's release (0.0.0 if its metadata is missing)."""
    try:
        text = version("litellm")
    except PackageNotFoundError:
        text = "0.0.0"
    return LiteLLMRelease(text=text, numbers=_numbers(text))


def _fallback_bucket(data: MutableMapping[str, Any]) -> tuple[BucketName, dict[str, Any]]:
    """LiteLLM's rule before it had a helper: `litellm_metadata` when present, else `metadata`."""
    name: BucketName = "litellm_metadata" if "litellm_metadata" in data else "metadata"
    bucket = data.get(name)
    if not isinstance(bucket, dict):
        bucket = {}
        data[name] = bucket
    return name, bucket


def _bucket_function() -> Callable[[MutableMapping[str, Any]], tuple[BucketName, dict[str, Any]]]:
    try:
        from litellm.litellm_core_utils.core_helpers import (
            get_or_create_metadata_bucket,
        )
    except ImportError:  # LiteLLM < 1.95: the same rule, done here
        return _fallback_bucket
    return get_or_create_metadata_bucket  # type: ignore[return-value]


#: The request's proxy-internal metadata dict (created when absent) and its key.
metadata_bucket = _bucket_function()


@dataclass(frozen=True, slots=True, kw_only=True)
class Difference:
    """Something older LiteLLM releases do differently, found by `make compat`.

    `since` is the first release of the matrix and its probes seen behaving the new way; the
    change lies after `last_old`, the newest one seen behaving the old way.
    """

    since: tuple[int, int, int]
    last_old: tuple[int, int, int]
    #: The modes for which it matters (any of them configured), or all modes when empty.
    modes: frozenset[str]
    note: str


_REFUSING = frozenset({"pre_call", "during_call"})
_POST = frozenset({"post_call"})
_MCP = frozenset({"pre_mcp_call", "during_mcp_call"})

#: Keyed by a short name the tests use (tests/support/litellm_release.py).
DIFFERENCES: dict[str, Difference] = {
    "anthropic_refusal_envelope": Difference(
        since=(1, 100, 5),
        last_old=(1, 94, 1),
        modes=_REFUSING,
        note='/v1/messages refusals reach clients in OpenAI\'s error envelope (code "400", '
        "the message) instead of Anthropic's with the guardrail's code and fields",
    ),
    "anthropic_stream_refusal_envelope": Difference(
        since=(1, 106, 2),
        last_old=(1, 100, 5),
        modes=_REFUSING,
        note="refused /v1/messages streams answer in OpenAI's error envelope, not Anthropic's",
    ),
    "completions_refusal_call_id": Difference(
        since=(1, 106, 2),
        last_old=(1, 100, 5),
        modes=_REFUSING,
        note="refused /v1/completions calls carry no x-litellm-call-id header",
    ),
    "chat_stream_usage": Difference(
        since=(1, 100, 5),
        last_old=(1, 94, 1),
        modes=_POST,
        note="chat streams carry no token usage unless the client asks for it "
        "(stream_options.include_usage); their audits estimate it (usage_estimated: true)",
    ),
    "model_guardrail_public_name": Difference(
        since=(1, 100, 5),
        last_old=(1, 94, 1),
        modes=frozenset(),
        note="a model-level guardrail (model_list[].litellm_params.guardrails) sees the "
        "deployment's model name (e.g. openai/gpt-4o), which becomes the pre-check's "
        "context.model",
    ),
    "mcp_server_name": Difference(
        since=(1, 94, 1),
        last_old=(1, 84, 0),
        modes=_MCP,
        note="LiteLLM does not pass the MCP server's name to the hook: MCP checks and audits "
        "name the connector 'mcp' instead of the server",
    ),
    "mcp_hook_once": Difference(
        since=(1, 106, 2),
        last_old=(1, 100, 5),
        modes=_MCP,
        note="every MCP tool call passes the guardrail twice (first before LiteLLM resolves "
        "its server, as connector 'mcp'): it is checked and audited twice",
    ),
}


def differences_for(release: LiteLLMRelease, modes: Sequence[str]) -> list[Difference]:
    """The differences that apply to this release and these configured modes."""
    configured = set(modes)
    return [
        d
        for d in DIFFERENCES.values()
        if release.numbers[:3] < d.since and (not d.modes or d.modes & configured)
    ]


def check_litellm_release(*, modes: Sequence[str]) -> LiteLLMRelease:
    """Say at startup what this LiteLLM release means for the configured guardrail.

    Refusing is not this function's job: a mode the release does not know already fails in
    LiteLLM's own config validation. It logs the release, warns when it is outside the tested
    range or compromised, and names each known difference of an older release that matters
    for the configured modes, so an operator reads it in the startup log rather than
    discovering it from a request.
    """
    release = litellm_release()
    log.info("axonflow guardrail: running on litellm %s", release.text)
    if release.compromised:
        log.error(
            "axonflow guardrail: litellm %s is a compromised release; upgrade now "
            "(see LiteLLM's security advisory)",
            release.text,
        )
    elif release.below_floor:
        log.warning(
            "axonflow guardrail: litellm %s is older than the oldest tested release %s; "
            "expect failures",
            release.text,
            ".".join(map(str, FLOOR)),
        )
    for difference in differences_for(release, modes):
        log.warning(
            "axonflow guardrail: litellm %s is older than %s; up to %s, %s",
            release.text,
            ".".join(map(str, difference.since)),
            ".".join(map(str, difference.last_old)),
            difference.note,
        )
    return release
