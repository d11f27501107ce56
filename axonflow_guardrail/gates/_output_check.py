"""Output policies: the model's answer checked with AxonFlow before the client sees it.

Used when the operator sets `check_output: true` (mode `post_call`). A blocked answer becomes
a 400 (`output_blocked`), or a stream's error event; a redacted answer reaches the client
with the engine-masked text (`response._rewrite`), or is withheld with `redaction_failed` when
the response cannot carry it faithfully. If AxonFlow cannot answer, or the check itself fails,
`fail_open` decides, as for the pre-check. In `audit` (shadow) enforcement nothing is blocked or
rewritten: a block is recorded as "would have blocked", a redaction only by AxonFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, failure_code, governance_error
from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.axonflow._client import AxonFlowClient
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind
from axonflow_guardrail.request._identity import CallerIdentity
from axonflow_guardrail.response._rewrite import replace_response_text
from axonflow_guardrail.response._text import extract_response_text

__all__ = ["OutputCall", "OutputGate", "OutputVerdict"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputCall:
    """The call whose answer is checked (from what the pre-check remembered)."""

    identity: CallerIdentity
    enforcement: str
    call_id: str
    context_id: str | None
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class OutputVerdict:
    """`masked_text` is set when the answer must be replaced; `failed_open` when unchecked;
    `would_have_blocked` when audit mode let a blocked answer through."""

    masked_text: str | None = None
    failed_open: bool = False
    decision_id: str | None = None
    would_have_blocked: bool = False


class OutputGate:
    def __init__(self, *, client: AxonFlowClient, settings: GuardrailSettings) -> None:
        self._client = client
        self._settings = settings

    @property
    def enabled(self) -> bool:
        return self._settings.check_output

    async def check_response(self, response: Any, *, call: OutputCall) -> OutputVerdict:
        """Check a whole response and put masked text in it; raise to withhold it.

        A failure of the check itself (not AxonFlow's: a bug) is decided as a broken call
        (`_unchecked`): the response is withheld (503 `guardrail_error`), logged with the call
        id, as a bug does before the call, unless in audit mode or where the operator accepted
        that risk (`fail_open_on_internal_error`, then `fail_open` decides).
        """
        try:
            verdict = await self.check(extract_response_text(response), call=call)
            if verdict.masked_text is not None and not replace_response_text(
                response, verdict.masked_text
            ):
                raise governance_error(
                    ErrorCode.REDACTION_FAILED,
                    "The response must be masked and its format cannot carry the masked "
                    "text; it was withheld.",
                    decision_id=verdict.decision_id,
                )
        except HTTPException:
            raise
        except Exception as exc:
            log.exception("axonflow output check failed; call_id=%s", call.call_id)
            bug = AxonFlowFailure(
                FailureKind.BROKEN, f"guardrail internal error: {type(exc).__name__}"
            )
            return self._unchecked(bug, call=call)
        return verdict

    def _unchecked(self, failure: AxonFlowFailure, *, call: OutputCall) -> OutputVerdict:
        """The one place an answer the check could not judge is decided: let out unchecked
        (logged loudly with the call id) or withheld with the client's error. Shadow mode
        never withholds; otherwise only AxonFlow's unavailability may fail open, and the
        guardrail's own failure only where the operator accepted that risk
        (`fail_open_on_internal_error`)."""
        settings = self._settings
        opens = failure.kind is FailureKind.UNAVAILABLE or (
            failure.kind is FailureKind.BROKEN and settings.fail_open_on_internal_error
        )
        if call.enforcement == "audit" or (opens and settings.fail_open):
            log.warning(
                "axonflow output check not applied (%s): %s; call_id=%s",
                "audit mode" if call.enforcement == "audit" else "FAIL-OPEN",
                failure.reason,
                call.call_id,
            )
            return OutputVerdict(failed_open=True)
        raise governance_error(
            failure_code(failure),
            f"The response could not be checked by governance ({failure.reason}); it was withheld.",
        ) from None

    async def check(self, text: str, *, call: OutputCall) -> OutputVerdict:
        """Check `text`; raise the client's error when it is blocked (or unchecked, fail-closed)."""
        if not text.strip():
            return OutputVerdict()
        identity = call.identity
        try:
            decision = await self._client.check_output(
                text=text,
                user_token=identity.user_token,
                user_id=identity.user_id,
                traceparent=call.traceparent,
            )
        except AxonFlowFailure as failure:
            return self._unchecked(failure, call=call)
        if not decision.allowed:
            log.info(
                "axonflow output blocked: decision_id=%s call_id=%s",
                decision.decision_id,
                call.call_id,
            )
            if call.enforcement == "audit":
                return OutputVerdict(decision_id=decision.decision_id, would_have_blocked=True)
            raise governance_error(
                ErrorCode.OUTPUT_BLOCKED,
                decision.block_reason or "Response blocked by governance policy",
                decision_id=decision.decision_id,
                context_id=call.context_id,
            )
        if decision.masked_text is not None and decision.masked_text != text:
            if call.enforcement == "audit":  # shadow mode records, never rewrites
                return OutputVerdict(decision_id=decision.decision_id)
            return OutputVerdict(masked_text=decision.masked_text, decision_id=decision.decision_id)
        return OutputVerdict(decision_id=decision.decision_id)
