"""Fuzzing through the real proxy: random request shapes on every route family.

Each example is a valid request for its route (model and prompt) with random JSON added at the
top level and inside the prompt field, and a blocked SQL-injection prompt planted in a random
place that is not on the never-read list (see `tests/support/request_fuzz.py`). Whatever the
shape, through the real `litellm` CLI and the dev agent:

- the proxy never answers 500, and the guardrail never logs an internal error;
- the planted prompt never reaches the model (the recording upstream), whatever the status.

`make test` sends a hundred bodies per route family (hypothesis profile `ci`, fixed seed);
`make fuzz` thousands (profile `long`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.dev_agent import DevAgent
from tests.support.fake_llm import FakeLLM, fake_model
from tests.support.proxy import Proxy, guardrail, start_proxy
from tests.support.request_fuzz import JSON, containers, exempt
from tests.support.route_clients import PATHS, PROMPT_FIELD, ROUTES, body_for

pytestmark = pytest.mark.e2e

SQLI = "x' UNION SELECT password FROM accounts --"
PLANTED_KEY = "zq_planted"
CALL_TYPE = {
    "chat": "acompletion",
    "completions": "atext_completion",
    "responses": "aresponses",
    "messages": "anthropic_messages",
    "embeddings": "aembedding",
}
#: A third of the profile's examples per route family: 100 each in `make test` (about 500
#: requests through the proxy), 1,600 each in `make fuzz`.
EXAMPLES = max(10, settings().max_examples // 3)


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as running:
        yield running


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, llm: FakeLLM) -> Iterator[Proxy]:
    config = {
        "model_list": [fake_model(name, llm) for name in ("fake", "embed")],
        "guardrails": [
            guardrail(
                "axonflow",
                agent.url,
                default_on=True,
                breaker_failure_threshold=1000,
                call_timeout_seconds=5.0,
            )
        ],
    }
    with start_proxy(config) as running:
        yield running


def request_for(route: str, data: st.DataObject) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """A valid request plus random JSON, with SQLI planted; returns it and the marker's path."""
    model = "embed" if route == "embeddings" else "fake"
    body = body_for(route, model=model, user="Summarise the report", guard=None)
    extra = data.draw(st.dictionaries(st.text(min_size=1, max_size=8), JSON, max_size=3))
    body = {**extra, **body}
    field = PROMPT_FIELD[route]
    if isinstance(body[field], list):
        body[field] = [*body[field], *data.draw(st.lists(JSON, max_size=2), label="items")]
    places = [
        (p, c)
        for p, c in containers(body)
        if not exempt(body, (*p, PLANTED_KEY), CALL_TYPE[route], extra_body_exempt=False)
    ]
    path, container = data.draw(st.sampled_from(places), label="container")
    if isinstance(container, dict):
        container[PLANTED_KEY] = SQLI
        return body, (*path, PLANTED_KEY)
    container.append(SQLI)
    return body, (*path, len(container) - 1)


@pytest.mark.parametrize("route", ROUTES)
def test_random_shapes_never_500_and_never_carry_the_blocked_prompt_upstream(
    proxy: Proxy, llm: FakeLLM, route: str
) -> None:
    @settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        llm.reset()
        body, where = request_for(route, data)
        before = proxy.output_size()
        response = proxy.post(PATHS[route], body)
        upstream = json.dumps([r["body"] for r in llm.requests()], ensure_ascii=False)
        log = proxy.output(since=before)
        assert response.status_code != 500, (where, response.text[:300])
        assert "guardrail internal error" not in log, (where, log[-2000:])
        assert SQLI not in upstream, (where, response.status_code, upstream[:500])

    one()
