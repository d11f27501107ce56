"""What a call must pass before the model (or the client) sees it.

Reading the request and refusing what cannot be checked (`_admission`); the pre-check and the
one place that decides fail-open or fail-closed (`_pre_check`); input masking (`_masking`);
human approvals (`approvals/`); MCP tool calls (`_tool_calls`); output policies
(`_output_check`); streams (`_stream_gate`); and the routes LiteLLM runs no guardrail on
(`_unhooked_routes`, with FastAPI's analysis of its auth override done once:
`_override_analysis`).

Imports `axonflow/` (to ask AxonFlow), `request/` and `response/` (to read and rewrite),
`observe._events` (approval holds report there) and the shared modules; never `audit/` or the
hook module.
"""
