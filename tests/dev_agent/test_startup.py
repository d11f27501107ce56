"""Starting, restarting and identifying the dev agent process."""

from __future__ import annotations

import subprocess

from axonflow import AxonFlow

from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.support.processes import BIN_DIR, TEST_ENV

from .conftest import Agents


def test_first_log_line_says_it_is_an_emulator(agents: Agents) -> None:
    for agent in (agents.enterprise, agents.community, agents.special):
        first = agent.output().splitlines()[0]
        assert "LOCAL EMULATOR of the AxonFlow agent" in first
        assert "NOT AxonFlow" in first
        assert "NOT for production" in first
        assert "loop=uvloop" in agent.output()
        # Measured, not asserted: the figure is reported (see docs/dev-agent.md).
        print(f"dev agent on {agent.port} ready after {agent.startup_s:.2f}s")


async def test_stop_and_start_on_the_same_port(tmp_path, make_sdk) -> None:
    policies = tmp_path / "p.yaml"
    policies.write_text("policies:\n  - id: x\n    pattern: zzz\n    action: block\n")
    with start_dev_agent(policies_file=policies, extra_args=["--log-level", "debug"]) as agent:
        client: AxonFlow = make_sdk(agent, "c", "s")
        assert (await client.pre_check(user_token="u", query="zzz")).policies == ["x"]
        port = agent.port
        agent.stop()
        assert not agent.running
        assert await client.health_check() is False
        agent.start()
        assert agent.port == port
        assert agent.running
        assert agent.requests() == []
        assert (await client.pre_check(user_token="u", query="zzz")).policies == ["x"]
        # At debug level prompts are logged; both runs' output is kept.
        assert agent.output().count("LOCAL EMULATOR") == 2
        assert "query='zzz'" in agent.output()


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run(
        [str(BIN_DIR / "python"), "-m", "axonflow_guardrail.cli", "dev-agent", "--help"],
        capture_output=True,
        text=True,
        env={**TEST_ENV, "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--policies" in result.stdout
    assert "--client" in result.stdout
    assert "NOT AxonFlow" in result.stdout


def test_dev_agent_handle_is_reusable(agent: DevAgent) -> None:
    assert agent.url == f"http://127.0.0.1:{agent.port}"
    assert agent.running
