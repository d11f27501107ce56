"""The SDK's HTTP transport, on aiohttp: the same calls at a third of the CPU.

Why: the `axonflow` SDK sends every call through an `httpx.AsyncClient`, whose default
transport (httpcore, h11 and anyio, all pure Python) costs ~0.5-0.7 ms of CPU per call on
a 2 GHz core. The guardrail makes two calls per LLM request (pre-check, then the audit), on
the proxy worker's only core, so in `make bench` that transport alone cost ~20 % of the
worker's throughput. aiohttp parses HTTP in C (it is already in the process: LiteLLM and
the proxy depend on it); the same calls cost ~0.2 ms.

Only the transport changes. The SDK and httpx's client above it are untouched: headers, the
SDK's auth hook, error handling, env proxies (httpx routes a proxied URL through its own
mounts, never to this transport), and TLS, which uses the very context httpx would build
(certifi, `SSL_CERT_FILE`/`SSL_CERT_DIR`). aiohttp errors become the httpx errors the
default transport raises for the same event, so `classify_failure` and the audit sink's
retry rule see exactly what they saw before.

Scope: small non-streaming requests and answers, which is all the guardrail sends; the body
is read whole.
"""

from __future__ import annotations

import ssl

import aiohttp
import httpx

__all__ = ["AiohttpTransport", "install_fast_transport"]


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One keep-alive aiohttp session per transport, opened in the loop that first uses it."""

    def __init__(self, *, ssl_context: ssl.SSLContext, max_connections: int = 100) -> None:
        self._ssl = ssl_context
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _session_for_loop(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl),
                # httpx decodes by Content-Encoding when it builds the response, as usual.
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                # Proxies are httpx's business (its mounts); this transport connects directly.
                trust_env=False,
            )
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout") or {}
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read")
        )
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        try:
            async with self._session_for_loop().request(
                request.method,
                str(request.url),
                data=body or None,
                headers=headers,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                content = await response.read()
                return httpx.Response(
                    response.status,
                    headers=list(response.raw_headers),
                    content=content,
                    request=request,
                )
        except TimeoutError as exc:  # aiohttp's sock_connect / sock_read deadlines
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except (aiohttp.ClientConnectorError, ConnectionRefusedError) as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (
            aiohttp.ServerDisconnectedError,  # httpcore: "Server disconnected without ..."
            aiohttp.ClientPayloadError,  # a truncated body
            aiohttp.ClientResponseError,  # an answer that is not HTTP
        ) as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.NetworkError(str(exc), request=request) from exc

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def install_fast_transport(client: object) -> bool:
    """Swap the default transport of an SDK `httpx.AsyncClient` for `AiohttpTransport`.

    Returns False (and changes nothing) when the client is not what we expect, e.g. a
    future SDK that builds its client differently: the default transport keeps working.
    """
    if not isinstance(client, httpx.AsyncClient):
        return False
    current = getattr(client, "_transport", None)
    if not isinstance(current, httpx.AsyncHTTPTransport):
        return False
    pool = getattr(current, "_pool", None)
    ssl_context = getattr(pool, "_ssl_context", None)
    if not isinstance(ssl_context, ssl.SSLContext):
        # The context httpx itself builds for verify=True: certifi plus SSL_CERT_* env.
        ssl_context = httpx.create_ssl_context()
    client._transport = AiohttpTransport(ssl_context=ssl_context)
    return True
