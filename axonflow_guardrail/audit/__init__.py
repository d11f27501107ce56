"""What is remembered of a call and where its record goes.

The pre-check's findings kept until the call is audited, exactly once (`_call_state`); the
audit records built from a call (`_records`); their delivery to AxonFlow off the response path
(`_sink`); and the decision recorded in LiteLLM's own guardrail logging, in one place
(`_litellm_record`).

Imports `axonflow/` (to deliver), `request/` and `response/` (identity, text and usage), and
the shared modules; never `gates/` or the hook module.
"""
