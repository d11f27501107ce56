"""The SDK's HTTP client, lean: the SDK's own calls, sent without httpx's client layer.

Why: the `axonflow` SDK sends every call through an `httpx.AsyncClient`. The guardrail makes
two calls per LLM request (pre-check, then the audit) on the proxy worker's event loop, and
`make bench` showed httpx costing most of their CPU: its default transport (httpcore, h11,
anyio: pure Python) ~0.6 ms per call, and its client layer above it (URL parsing, header and
cookie merging, cookie extraction through `http.cookiejar`, the auth and redirect generators)
~0.2 ms more, plus the garbage all of that leaves for the collector, which on a LiteLLM-sized
heap is the dearest part. aiohttp's client, which carried these calls for a while, still cost
~0.5 ms per call (`_http11` says why, `python -m bench.call_cost` measures it).

What this is: `LeanHttpClient` takes the place of the SDK's `_http_client`. The SDK still
builds every call (route, body, headers, auth) and reads every answer (status, JSON, its
error mapping); only the bytes move differently. For each call it:

- merges the SDK client's default headers with the call's, as httpx does;
- builds the `httpx.Request` the SDK's request hooks expect and runs them (the SDK stamps
  read identities in one), then sends exactly the head and body httpx would send;
- sends it on a keep-alive HTTP/1.1 connection of its own (`_http11`: asyncio streams, TLS
  with the SDK client's SSL context) within the SDK client's timeouts, no redirects, no
  cookies (the agent API keeps no session; the SDK sends its portal cookie as an explicit
  header);
- answers with a real `httpx.Response`, so `raise_for_status`, `.json()` and the SDK's
  status handling behave as before, and maps connection failures to the httpx errors the
  default transport raises for the same event, so `classify_failure` and the audit sink's
  retry rule see what they always saw.

Anything else goes to the SDK's own client untouched: a call with arguments this path does
not handle (files, params, streams, ...), a URL an environment proxy applies to (httpx's
mounts; TLS and proxy handling stay httpx's there), and every attribute the SDK reads
(`headers`, `_transport`, ...). Scope: small JSON requests and answers, read whole.
"""

from __future__ import annotations

import json as stdlib_json
import ssl
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from axonflow_guardrail.axonflow._http11 import ConnectFailed, Http11Error, Http11Pool

__all__ = ["LeanHttpClient", "install_lean_http_client"]

_HANDLED_KWARGS = frozenset({"json", "headers"})


def _encode_json(value: Any) -> bytes:
    """The body httpx would send for `json=value` (compact, UTF-8), at orjson's speed."""
    try:
        return orjson.dumps(value)
    except TypeError:  # what orjson will not encode the way httpx does: let stdlib decide
        return stdlib_json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")


class LeanHttpClient:
    """Stands in for the SDK's `httpx.AsyncClient`; see the module docstring."""

    def __init__(self, *, template: httpx.AsyncClient, ssl_context: ssl.SSLContext) -> None:
        self._template = template
        self._ssl = ssl_context
        self._pools: dict[tuple[str, str, int], Http11Pool] = {}
        self._urls: dict[str, httpx.URL] = {}
        self._direct_origins: dict[str, bool] = {}

    # Whatever the SDK reads or calls that is not below comes from its own client.
    def __getattr__(self, name: str) -> Any:
        return getattr(self._template, name)

    async def request(self, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        if isinstance(url, str) and kwargs.keys() <= _HANDLED_KWARGS and self._direct(url):
            return await self._send(method, url, kwargs.get("json"), kwargs.get("headers"))
        return await self._template.request(method, url, **kwargs)

    # The SDK calls only request/get/post on its client; other verbs reach httpx through
    # __getattr__ (correct, just not lean).
    async def get(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.close()
        await self._template.aclose()

    # ------------------------------------------------------------------ internals

    def _direct(self, url: str) -> bool:
        """True when httpx would use its default transport for this URL's origin (no proxy)."""
        origin = url.split("/", 3)
        key = "/".join(origin[:3])
        direct = self._direct_origins.get(key)
        if direct is None:
            template = self._template
            mounts = getattr(template, "_mounts", None)
            default = getattr(template, "_transport", None)
            try:
                chosen = template._transport_for_url(httpx.URL(key)) if mounts else default
            except Exception:  # a URL httpx cannot parse: let httpx report it
                chosen = None
            direct = self._direct_origins[key] = chosen is default and default is not None
        return direct

    def _url(self, url: str) -> httpx.URL:
        # The SDK uses a handful of routes; parsing each once saves a parse per call.
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = httpx.URL(url)
            if len(self._urls) < 256:  # ids in paths must not grow this without bound
                self._urls[url] = parsed
        return parsed

    def _pool_for(self, url: httpx.URL) -> Http11Pool:
        port = url.port or (443 if url.scheme == "https" else 80)
        key = (url.scheme, url.host, port)
        pool = self._pools.get(key)
        if pool is None:
            timeout = self._template.timeout
            pool = self._pools[key] = Http11Pool(
                host=url.host,
                port=port,
                tls=self._ssl if url.scheme == "https" else None,
                connect_timeout=timeout.connect,
                read_timeout=timeout.read,
            )
        return pool

    async def _send(
        self, method: str, url: str, json: Any, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        template = self._template
        merged = template.headers.copy()
        if headers:
            merged.update(headers)
        content = None if json is None else _encode_json(json)
        if content is not None and "content-type" not in merged:
            merged["Content-Type"] = "application/json"
        request = httpx.Request(method, self._url(url), headers=merged, content=content)
        for hook in template.event_hooks["request"]:
            await hook(request)
        response = await self._exchange(request, content)
        for hook in template.event_hooks["response"]:
            await hook(response)
        return response

    async def _exchange(self, request: httpx.Request, content: bytes | None) -> httpx.Response:
        url = request.url
        raw = request.headers.raw
        fields = b"\r\n".join([name + b": " + value for name, value in raw])
        breaks = max(len(raw) - 1, 0)  # the ones the join put between the header lines
        if fields.count(b"\n") != breaks or fields.count(b"\r") != breaks:
            # A line break inside a header would start a header (or a request) of its own; h11
            # and aiohttp refuse one too. Raised before anything is sent: the call is broken on
            # our side, which fails closed (`classify_failure`), never an outage.
            raise ValueError("a header of this AxonFlow call holds a line break")
        head = f"{request.method} {url.raw_path.decode('ascii')} HTTP/1.1\r\n".encode("ascii")
        wire = head + fields + b"\r\n\r\n" + (content or b"")
        pool = self._pool_for(url)
        try:
            answer = await pool.exchange(wire, method=request.method)
        except TimeoutError as exc:  # the connect or read deadline
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except Http11Error as exc:  # httpcore: "Server disconnected without ...", truncated
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except ConnectFailed as exc:  # nothing was sent
            raise httpx.ConnectError(str(exc), request=request) from exc
        except OSError as exc:
            raise httpx.NetworkError(str(exc), request=request) from exc
        return httpx.Response(
            answer.status, headers=answer.headers, content=answer.body, request=request
        )


def install_lean_http_client(sdk: object, attribute: str = "_http_client") -> bool:
    """Put a `LeanHttpClient` in place of the SDK client's `httpx.AsyncClient`.

    Returns False (and changes nothing) when the SDK is not built as expected, e.g. a future
    SDK that holds its client differently: the SDK's own client keeps working.
    """
    template = getattr(sdk, attribute, None)
    if not isinstance(template, httpx.AsyncClient):
        return False
    transport = getattr(template, "_transport", None)
    pool = getattr(transport, "_pool", None)
    ssl_context = getattr(pool, "_ssl_context", None)
    if not isinstance(ssl_context, ssl.SSLContext):
        # The context httpx itself builds for verify=True: certifi plus SSL_CERT_* env.
        ssl_context = httpx.create_ssl_context()
    setattr(sdk, attribute, LeanHttpClient(template=template, ssl_context=ssl_context))
    return True
