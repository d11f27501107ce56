"""What is remembered of a call and where its record goes.

The pre-check's findings kept until the call is audited, exactly once (`_call_state`); the
audit records built from a call (`_records`); their delivery to AxonFlow off the response path
(`_sink`); where they wait, as `doctor` checks it (`_store_status`); and the decision recorded
in one place (`_litellm_record`): LiteLLM's guardrail logging, the decisions metric and the
applied-guardrails header; a pass that changed nothing is written to LiteLLM's logging just
after LiteLLM's shadow-eval snapshot, with its true mode (`_deferred_record`).

Imports `axonflow/` (to deliver), `request/` and `response/` (identity, text and usage),
`observe._events` (to report) and the shared modules; never `gates/` or the hook module.
"""
