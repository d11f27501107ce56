"""Fixtures for the dev agent's tests: one agent process per kind, reset between tests.

Three agents start once per session, in parallel: an enterprise agent with two client
credentials, a community agent accepting any client, and a "special" enterprise agent with a
tiny approval cap, user-token enforcement and v11-style approvals. Tests get them through
function-scoped fixtures that call `/__dev/reset` first, so no test sees another's state.
"""

from __future__ import annotations

import os

# Before anything imports the SDK: no telemetry, no proxies for loopback.
os.environ["AXONFLOW_TELEMETRY"] = "off"
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["no_proxy"] = "127.0.0.1,localhost"

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest
from axonflow import AxonFlow

from tests.support.dev_agent import DevAgent

CLIENT_ID = "acme"
CLIENT_SECRET = "s3cret-acme-value"
OTHER_ID = "globex"
OTHER_SECRET = "s3cret-globex-value"
SPECIAL_PENDING_CAP = 2


@dataclass
class Agents:
    enterprise: DevAgent
    community: DevAgent
    special: DevAgent


@pytest.fixture(scope="session")
def agents() -> Iterator[Agents]:
    started = Agents(
        enterprise=DevAgent(clients=[(CLIENT_ID, CLIENT_SECRET), (OTHER_ID, OTHER_SECRET)]),
        community=DevAgent(edition="community"),
        special=DevAgent(
            clients=[(CLIENT_ID, CLIENT_SECRET), (OTHER_ID, OTHER_SECRET)],
            extra_args=[
                "--hitl-pending-cap",
                str(SPECIAL_PENDING_CAP),
                "--require-user-token",
                "--v11-approvals",
            ],
        ),
    )
    all_agents = (started.enterprise, started.community, started.special)
    try:
        for agent in all_agents:
            agent.launch()
        for agent in all_agents:
            agent.wait_ready()
        yield started
    finally:
        for agent in all_agents:
            agent.close()


@pytest.fixture
def agent(agents: Agents) -> DevAgent:
    """The enterprise agent (clients acme and globex), freshly reset."""
    agents.enterprise.reset()
    return agents.enterprise


@pytest.fixture
def community_agent(agents: Agents) -> DevAgent:
    agents.community.reset()
    return agents.community


@pytest.fixture
def special_agent(agents: Agents) -> DevAgent:
    """Enterprise, approval cap 2, user tokens enforced, v11 approvals."""
    agents.special.reset()
    return agents.special


@pytest.fixture
async def make_sdk() -> AsyncIterator[Callable[..., AxonFlow]]:
    """`make_sdk(agent, client_id=..., client_secret=..., timeout=...)`; all closed after."""
    made: list[AxonFlow] = []

    def make(agent: DevAgent, *args: object, **kwargs: object) -> AxonFlow:
        client = agent.sdk_client(*args, **kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def sdk(agent: DevAgent, make_sdk: Callable[..., AxonFlow]) -> AxonFlow:
    """The official SDK as client acme on the enterprise agent, retries off."""
    return make_sdk(agent, CLIENT_ID, CLIENT_SECRET)


@pytest.fixture
async def community_sdk(community_agent: DevAgent, make_sdk: Callable[..., AxonFlow]) -> AxonFlow:
    return make_sdk(community_agent, "any-client", "whatever")
