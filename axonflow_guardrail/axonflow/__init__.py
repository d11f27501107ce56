"""Every call to AxonFlow, through the official `axonflow` SDK.

The client and its calls (`_client`); the one place an SDK failure is classified as a
rejection, unavailability or our own breakage (`_failures`); the SDK's HTTP client, lean
(`_http_client`), on keep-alive HTTP/1.1 connections of its own (`_http11`); the request's
traceparent on every call and AxonFlow's trace id read back (`_trace_headers`); the breakers
in front of each AxonFlow function (`_breakers`) and their pure state machine
(`_circuit_breaker`); and the calls of the operator commands (`_operator`: the doctor's
probes, the reviewer's approval queue).

Imports the SDK, `observe._events` (to report calls and breaker transitions) and the shared
modules only.
"""
