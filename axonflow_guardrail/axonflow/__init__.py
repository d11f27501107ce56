"""Every call to AxonFlow, through the official `axonflow` SDK.

The client and its calls (`_client`); the one place an SDK failure is classified as a
rejection or unavailability (`_failures`); the SDK's HTTP client, lean, on aiohttp
(`_http_client`); the breakers in front of each AxonFlow function (`_breakers`) and their pure
state machine (`_circuit_breaker`).

Imports the SDK and the shared modules only.
"""
