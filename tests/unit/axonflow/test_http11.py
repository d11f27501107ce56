"""The HTTP/1.1 connections under the SDK, against a loopback server that answers scripted
bytes: every body framing, keep-alive and its end, and every malformed or cut answer refused
(never guessed), with the connection closed after anything but a complete answer.

The dev agent (`test_lean_http_client.py`) covers the SDK's real calls and the error mapping;
these answers (chunked, HTTP/1.0, interim 1xx, a cut head) are ones it never sends.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trustme

from axonflow_guardrail.axonflow._http11 import ConnectFailed, Http11Error, Http11Pool, _Connection
from tests.support.processes import free_port

REQUEST = b"POST /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"

Script = Callable[[int], bytes | None]  # the n-th request on a connection -> answer bytes


class Server:
    """Reads each request whole, writes the script's answer (None: close the connection)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                self.requests += 1
                answer = self.script(n)
                n += 1
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class RecordingPool(Http11Pool):
    """Keeps every connection it made, to see which were closed (not left to the GC)."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.made: list[_Connection] = []

    async def _connect(self) -> _Connection:
        connection = await super()._connect()
        self.made.append(connection)
        return connection


@asynccontextmanager
async def pool_on(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[RecordingPool]:
    """A loopback server running `handle` per connection, and a pool to it; both stopped."""
    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    pool = RecordingPool(host="127.0.0.1", port=port, tls=None, connect_timeout=2, read_timeout=2)
    try:
        yield pool
    finally:
        await pool.close()
        listening.close()
        await listening.wait_closed()


@asynccontextmanager
async def serving(script: Script) -> AsyncIterator[tuple[Server, RecordingPool]]:
    server = Server(script)
    async with pool_on(server.handle) as pool:
        yield server, pool


@asynccontextmanager
async def answering_once(answer: bytes | None) -> AsyncIterator[tuple[list[int], RecordingPool]]:
    """A server that answers each connection's first request with `answer` (None: nothing),
    then closes it; yields the connections it accepted (a list that grows) and a pool."""
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(len(accepted))
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        if answer is not None:
            writer.write(answer)
            await writer.drain()
        writer.close()

    async with pool_on(handle) as pool:
        yield accepted, pool


def always(answer: bytes) -> Script:
    return lambda n: answer


OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


async def test_a_connection_is_kept_alive_and_reused() -> None:
    async with serving(always(OK)) as (server, pool):
        for _ in range(5):
            answer = await pool.exchange(REQUEST, method="POST")
            assert (answer.status, answer.body) == (200, b'{"ok":true}')
            assert (b"Content-Type", b"application/json") in answer.headers
    assert (server.connections, server.requests) == (1, 5)


async def test_a_chunked_answer_is_read_whole_with_extensions_and_trailers() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4;ext=1\r\n{"ok\r\n7\r\n":true}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    async with serving(always(chunked)) as (server, pool):
        first = await pool.exchange(REQUEST, method="POST")
        second = await pool.exchange(REQUEST, method="POST")
    assert first.body == second.body == b'{"ok":true}'
    assert server.connections == 1


async def test_interim_answers_are_skipped() -> None:
    async with serving(always(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)) as (_, pool):
        answer = await pool.exchange(REQUEST, method="POST")
    assert (answer.status, answer.body) == (200, b'{"ok":true}')


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    ],
)
async def test_a_connection_the_server_ends_is_not_reused(answer: bytes) -> None:
    async with serving(always(answer)) as (server, pool):
        await pool.exchange(REQUEST, method="POST")
        await pool.exchange(REQUEST, method="POST")
    assert server.connections == 2


async def test_a_body_that_ends_with_the_connection_is_read_to_its_end() -> None:
    async with answering_once(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100_000) as (_, pool):
        answer = await pool.exchange(REQUEST, method="POST")
    assert answer.body == b"x" * 100_000


async def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    """A keep-alive answer, then the server closes the idle connection (its keep-alive
    timeout): the next request notices and makes a new one instead of failing on it."""
    async with answering_once(OK) as (accepted, pool):
        await pool.exchange(REQUEST, method="POST")
        [idle] = pool._idle
        for _ in range(10_000):  # until the server's close reached the client's side
            if idle.reader.at_eof():
                break
            await asyncio.sleep(0)
        assert idle.reader.at_eof()
        answer = await pool.exchange(REQUEST, method="POST")
    assert answer.status == 200
    assert len(accepted) == 2


async def test_a_kept_alive_connection_closed_as_the_request_went_out_is_retried_once() -> None:
    """The server's idle close races the next request: it reads the request and closes without
    a byte. The request goes once more, on a new connection, instead of failing (which the
    guardrail would read as AxonFlow unavailable, and fail open)."""
    async with serving(lambda n: OK if n == 0 else None) as (server, pool):
        await pool.exchange(REQUEST, method="POST")
        answer = await pool.exchange(REQUEST, method="POST")
    assert answer.status == 200
    assert (server.connections, server.requests) == (2, 3)


async def test_the_retry_is_once_and_only_on_a_kept_alive_connection() -> None:
    # A new connection that ends without a byte: no retry.
    async with serving(lambda n: None) as (server, pool):
        with pytest.raises(Http11Error):
            await pool.exchange(REQUEST, method="POST")
    assert (server.connections, server.requests) == (1, 1)
    # A kept-alive one, and the new one after it, both end without a byte: one retry, then the
    # error.
    calls = 0

    def first_answer_only(n: int) -> bytes | None:
        nonlocal calls
        calls += 1
        return OK if calls == 1 else None

    async with serving(first_answer_only) as (server, pool):
        await pool.exchange(REQUEST, method="POST")
        with pytest.raises(Http11Error):
            await pool.exchange(REQUEST, method="POST")
    assert (server.connections, server.requests) == (2, 3)


async def test_a_kept_alive_connection_cut_mid_answer_is_not_retried() -> None:
    """Bytes came back: the request may have been acted on, so it is not sent again."""
    requests = 0

    async def answer_then_cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        for answer in (OK, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"):
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(2)
            requests += 1
            writer.write(answer)
            await writer.drain()
        writer.close()

    async with pool_on(answer_then_cut) as pool:
        await pool.exchange(REQUEST, method="POST")
        with pytest.raises(Http11Error) as cut:
            await pool.exchange(REQUEST, method="POST")
    assert cut.value.nothing_received is False
    assert (len(pool.made), requests) == (1, 2)


@pytest.mark.parametrize(
    ("answer", "nothing_received"),
    [
        (None, True),  # closed without a byte
        (b"HTTP/1.1 200 OK\r\nContent-Le", False),  # a cut head
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", False),  # a cut body
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{}", False),
        (b"HTTP/2 200\r\n\r\n", False),  # not HTTP/1.x
        (b"ICY 200 OK\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", False),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", False),
    ],
)
async def test_a_cut_or_malformed_answer_is_refused_and_not_pooled(
    answer: bytes | None, nothing_received: bool
) -> None:
    async with answering_once(answer) as (_, pool):
        with pytest.raises(Http11Error) as refused:
            await pool.exchange(REQUEST, method="POST")
        assert refused.value.nothing_received is nothing_received
        assert pool._idle == []


async def test_an_answer_larger_than_the_cap_is_refused() -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
    async with serving(always(big)) as (_, pool):
        pool.max_body_bytes = 10
        with pytest.raises(Http11Error):
            await pool.exchange(REQUEST, method="POST")


async def test_a_cancelled_exchange_closes_its_connection() -> None:
    """An answer still in flight would otherwise be read as the next request's."""
    started = asyncio.Event()

    def script(n: int) -> bytes | None:
        started.set()
        return b""  # no answer yet

    async with serving(script) as (_, pool):
        task = asyncio.create_task(pool.exchange(REQUEST, method="POST"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        [made] = pool.made
        assert made.writer.is_closing()
        assert pool._idle == []


async def test_no_answer_within_the_read_deadline_is_a_timeout() -> None:
    async with serving(always(b"")) as (_, pool):
        pool.read_timeout = 0.05  # the server never answers: this is the deadline itself
        with pytest.raises(TimeoutError):
            await pool.exchange(REQUEST, method="POST")
        [made] = pool.made
        assert made.writer.is_closing()
        assert pool._idle == []


async def test_a_refused_connection_is_a_connect_failure() -> None:
    pool = Http11Pool(
        host="127.0.0.1", port=free_port(), tls=None, connect_timeout=2, read_timeout=2
    )
    with pytest.raises(ConnectFailed):
        await pool.exchange(REQUEST, method="POST")


@asynccontextmanager
async def serving_tls(ca: trustme.CA) -> AsyncIterator[int]:
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_side)
    listening = await asyncio.start_server(
        Server(always(OK)).handle, "127.0.0.1", 0, ssl=server_side
    )
    try:
        yield listening.sockets[0].getsockname()[1]
    finally:
        listening.close()
        await listening.wait_closed()


async def test_tls_connections_verify_the_server_and_are_kept_alive() -> None:
    ca = trustme.CA()
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with serving_tls(ca) as port:
        pool = RecordingPool(
            host="127.0.0.1", port=port, tls=trusting, connect_timeout=2, read_timeout=2
        )
        try:
            for _ in range(3):
                answer = await pool.exchange(REQUEST, method="POST")
                assert (answer.status, answer.body) == (200, b'{"ok":true}')
        finally:
            await pool.close()
    assert len(pool.made) == 1


async def test_a_server_certificate_not_trusted_is_a_connect_failure() -> None:
    async with serving_tls(trustme.CA()) as port:
        pool = Http11Pool(
            host="127.0.0.1",
            port=port,
            tls=ssl.create_default_context(),  # the system's CAs: not this throwaway one
            connect_timeout=2,
            read_timeout=2,
        )
        with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await pool.exchange(REQUEST, method="POST")
