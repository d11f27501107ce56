"""A fake OpenAI-compatible model server that records exactly what reached it.

LiteLLM's `mock_response` answers inside the proxy, so nothing proves what a real provider
would have been sent (the Responses API mock even ignores the input). This server is a real
upstream: proxy model entries point at it with `api_base` (`fake_model(...)`), LiteLLM's own
OpenAI provider code sends it HTTP requests, and every request body is recorded. A test then
asserts on what the model *received*, on every route (`/v1/messages` reaches it through
LiteLLM's Anthropic-to-chat adapter as a chat completion).

Routes: `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/responses`, each
streaming (SSE, in several chunks, with usage) or not. The answer is chosen by the model name
the upstream is asked for (`answers`), else `default_answer`.

Runs in a daemon thread of the test process (`with FakeLLM(...) as llm:`); no sleeps.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLLM", "fake_model"]

DEFAULT_ANSWER = "Hello from the fake model."
#: Chunks per streamed answer (the answer is split into about this many pieces).
STREAM_PIECES = 4


def fake_model(name: str, llm: FakeLLM, *, upstream: str | None = None) -> dict[str, Any]:
    """A proxy model entry served by `llm` (LiteLLM's real OpenAI provider, no mock)."""
    return {
        "model_name": name,
        "litellm_params": {
            "model": f"openai/{upstream or name}",
            "api_base": llm.url,
            "api_key": "sk-fake-upstream",
        },
    }


def _pieces(text: str, count: int = STREAM_PIECES) -> list[str]:
    if not text:
        return [""]
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer (the proxy cancelling a call) is not an error."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeLLM:
    def __init__(
        self, *, answers: Mapping[str, str] | None = None, default_answer: str = DEFAULT_ANSWER
    ) -> None:
        self.answers = dict(answers or {})
        self.default_answer = default_answer
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer_for(self, model: str) -> str:
        return self.answers.get(model, self.default_answer)

    def record(self, path: str, body: Any) -> None:
        with self._lock:
            self._requests.append({"path": path, "body": body})

    def requests(self, path_suffix: str | None = None) -> list[dict[str, Any]]:
        """Recorded requests, oldest first; `path_suffix` e.g. "/chat/completions"."""
        with self._lock:
            return [
                r for r in self._requests if path_suffix is None or r["path"].endswith(path_suffix)
            ]

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()


def _handler_for(llm: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._json(400, {"error": {"message": "bad json", "type": "invalid_request"}})
                return
            path = self.path.split("?", 1)[0].rstrip("/")
            llm.record(path, body)
            model = str(body.get("model") or "")
            answer = llm.answer_for(model)
            stream = bool(body.get("stream"))
            if path.endswith("/chat/completions"):
                self._chat(model, answer, stream, body)
            elif path.endswith("/completions"):
                self._text(model, answer, stream)
            elif path.endswith("/embeddings"):
                self._embeddings(model, body)
            elif path.endswith("/responses"):
                self._responses(model, answer, stream)
            else:
                self._json(404, {"error": {"message": f"no route {path}", "type": "not_found"}})

        # ---------------------------------------------------------------- plumbing

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _sse(self, events: Iterator[tuple[str | None, Any]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for name, payload in events:
                data = payload if isinstance(payload, str) else json.dumps(payload)
                frame = (f"event: {name}\n" if name else "") + f"data: {data}\n\n"
                self.wfile.write(frame.encode())
                self.wfile.flush()

        # ---------------------------------------------------------------- routes

        def _chat(self, model: str, answer: str, stream: bool, body: Mapping[str, Any]) -> None:
            ident, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())
            if not stream:
                self._json(
                    200,
                    {
                        "id": ident,
                        "object": "chat.completion",
                        "created": created,
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": answer},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": _usage(11, 7),
                    },
                )
                return
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

            def events() -> Iterator[tuple[str | None, Any]]:
                base = {"id": ident, "object": "chat.completion.chunk", "created": created}
                first = True
                for piece in _pieces(answer):
                    delta: dict[str, Any] = {"content": piece}
                    if first:
                        delta["role"] = "assistant"
                        first = False
                    yield (
                        None,
                        {
                            **base,
                            "model": model,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                        },
                    )
                yield (
                    None,
                    {
                        **base,
                        "model": model,
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    },
                )
                if include_usage:
                    yield None, {**base, "model": model, "choices": [], "usage": _usage(11, 7)}
                yield None, "[DONE]"

            self._sse(events())

        def _text(self, model: str, answer: str, stream: bool) -> None:
            ident, created = f"cmpl-{uuid.uuid4().hex[:12]}", int(time.time())
            base = {"id": ident, "object": "text_completion", "created": created, "model": model}
            if not stream:
                self._json(
                    200,
                    {
                        **base,
                        "choices": [
                            {"index": 0, "text": answer, "finish_reason": "stop", "logprobs": None}
                        ],
                        "usage": _usage(5, 7),
                    },
                )
                return

            def events() -> Iterator[tuple[str | None, Any]]:
                for piece in _pieces(answer):
                    yield (
                        None,
                        {
                            **base,
                            "choices": [
                                {"index": 0, "text": piece, "finish_reason": None, "logprobs": None}
                            ],
                        },
                    )
                yield (
                    None,
                    {
                        **base,
                        "choices": [
                            {"index": 0, "text": "", "finish_reason": "stop", "logprobs": None}
                        ],
                        "usage": _usage(5, 7),
                    },
                )
                yield None, "[DONE]"

            self._sse(events())

        def _embeddings(self, model: str, body: Mapping[str, Any]) -> None:
            inputs = body.get("input")
            count = len(inputs) if isinstance(inputs, list) else 1
            self._json(
                200,
                {
                    "object": "list",
                    "model": model,
                    "data": [
                        {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                        for i in range(count)
                    ],
                    "usage": {"prompt_tokens": 4 * count, "total_tokens": 4 * count},
                },
            )

        def _responses(self, model: str, answer: str, stream: bool) -> None:
            ident = f"resp_{uuid.uuid4().hex[:16]}"
            msg_id = f"msg_{uuid.uuid4().hex[:16]}"
            created = int(time.time())

            def message(text: str, status: str) -> dict[str, Any]:
                return {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "status": status,
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }

            def response(status: str, output: list[Any], usage: bool) -> dict[str, Any]:
                return {
                    "id": ident,
                    "object": "response",
                    "created_at": created,
                    "status": status,
                    "model": model,
                    "output": output,
                    "parallel_tool_calls": True,
                    "tool_choice": "auto",
                    "tools": [],
                    "usage": (
                        {
                            "input_tokens": 9,
                            "output_tokens": 6,
                            "total_tokens": 15,
                            "input_tokens_details": {"cached_tokens": 0},
                            "output_tokens_details": {"reasoning_tokens": 0},
                        }
                        if usage
                        else None
                    ),
                }

            if not stream:
                self._json(200, response("completed", [message(answer, "completed")], True))
                return

            def events() -> Iterator[tuple[str | None, Any]]:
                seq = iter(range(1000))

                def ev(kind: str, **fields: Any) -> tuple[str, Any]:
                    return kind, {"type": kind, "sequence_number": next(seq), **fields}

                yield ev("response.created", response=response("in_progress", [], False))
                yield ev("response.in_progress", response=response("in_progress", [], False))
                item = {**message("", "in_progress"), "content": []}
                yield ev("response.output_item.added", output_index=0, item=item)
                part = {"type": "output_text", "text": "", "annotations": []}
                yield ev(
                    "response.content_part.added",
                    item_id=msg_id,
                    output_index=0,
                    content_index=0,
                    part=part,
                )
                for piece in _pieces(answer):
                    yield ev(
                        "response.output_text.delta",
                        item_id=msg_id,
                        output_index=0,
                        content_index=0,
                        delta=piece,
                    )
                yield ev(
                    "response.output_text.done",
                    item_id=msg_id,
                    output_index=0,
                    content_index=0,
                    text=answer,
                )
                yield ev(
                    "response.content_part.done",
                    item_id=msg_id,
                    output_index=0,
                    content_index=0,
                    part={**part, "text": answer},
                )
                done = message(answer, "completed")
                yield ev("response.output_item.done", output_index=0, item=done)
                yield ev("response.completed", response=response("completed", [done], True))

            self._sse(events())

    return Handler
