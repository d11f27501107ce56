"""What operators see: the guardrail's Prometheus metrics.

The rooms report what happens through small event interfaces (`_events`: one Protocol per
concern, each with a no-op default, so a room works, and is tested, without metrics):
decisions (`audit._litellm_record`, where each pre-call decision is recorded once), AxonFlow
calls and their failures (`axonflow._client`), breaker transitions (`axonflow._breakers`,
observed from outside the pure state machine), approval holds (`gates.approvals._hold`) and
audit delivery (`audit._sink`, and the durable outbox that may replace it). `_prometheus`
implements every interface on the `prometheus_client` registry LiteLLM's `prometheus` callback
serves on `/metrics`, in single- and multi-process mode; the hook module builds one
`GuardrailMetrics` per guardrail and hands it to the rooms.

Imports only `prometheus_client` and the shared modules; every room may import `_events`, and
only the hook module imports `_prometheus`.
"""
