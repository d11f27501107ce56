"""`axonflow-guardrail doctor` and `axonflow-guardrail approvals` against real dev agents.

The doctor reads a proxy config the way LiteLLM does (an `include:`, `environment_variables:`,
`os.environ/` references) and is checked in each failure it can detect: a wrong secret, a
refused connection, a Community agent where approvals are configured, a bad key in the YAML.
The approvals commands are checked in each documented exit status. (Releasing a request the
real proxy holds with `approvals approve` is in `test_observability.py`, which runs a proxy.)
Most runs are in-process through `cli.main` (the console script costs an interpreter and a
litellm import each); one run of each command goes through the installed script.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from axonflow.hitl import HITLCreateInput

from axonflow_guardrail.cli import main
from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.support.processes import BIN_DIR, free_port

pytestmark = pytest.mark.e2e

CLIENT_ID, SECRET = "litellm-test", "test-secret"
WRONG_SECRET = "wrong-secret-5e1f"
GUARD = "axonflow_guardrail.AxonFlowGuardrail"


@pytest.fixture(scope="module")
def community() -> Iterator[DevAgent]:
    with start_dev_agent(edition="community", clients=[(CLIENT_ID, SECRET)]) as running:
        yield running


def entry(name: str, **params: Any) -> dict[str, Any]:
    return {
        "guardrail_name": name,
        "litellm_params": {"guardrail": GUARD, "mode": ["pre_call", "post_call"], **params},
    }


def write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def script(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN_DIR / "axonflow-guardrail"), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


# ---------------------------------------------------------------------- doctor


def test_doctor_passes_a_good_config_read_as_litellm_reads_it(
    agent: DevAgent, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("DOCTOR_SECRET", SECRET)
    monkeypatch.setenv("DOCTOR_ENDPOINT", "placeholder")  # restored after: the config sets it
    write(
        tmp_path / "guardrails.yaml",
        {
            "guardrails": [
                entry(
                    "axonflow",
                    endpoint="os.environ/DOCTOR_ENDPOINT",
                    client_id=CLIENT_ID,
                    client_secret="os.environ/DOCTOR_SECRET",
                )
            ]
        },
    )
    config = write(
        tmp_path / "litellm_config.yaml",
        {
            "include": ["guardrails.yaml"],
            "environment_variables": {"DOCTOR_ENDPOINT": agent.url},
            "model_list": [],
        },
    )
    code, out, err = run("doctor", "--config", str(config), capsys=capsys)
    assert code == 0, out + err
    header, *lines, summary = out.splitlines()[1:]
    columns = [header.index(name) for name in ("CHECK", "STATUS", "DETAIL")]
    rows = [
        (
            line[: columns[0]].strip(),
            line[columns[0] : columns[1]].strip(),
            line[columns[1] : columns[2]].strip(),
        )
        for line in lines
    ]
    assert rows == [
        ("axonflow", "config", "ok"),
        ("axonflow", "endpoint", "ok"),
        ("axonflow", "credentials", "ok"),
        ("axonflow", "approvals", "ok"),
        ("axonflow", "audit store", "ok"),
    ]
    assert "edition enterprise" in out
    assert "approval queue available" in out
    assert summary == "1 AxonFlow guardrail(s) checked: no problems."
    assert SECRET not in out + err
    (pre_check,) = agent.requests(path="/api/policy/pre-check")
    assert pre_check["body"]["context"] == {"source": "axonflow-guardrail-doctor"}


def test_the_shipped_example_config_passes(
    capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    with start_dev_agent() as open_agent:  # any client id passes, as for `make run`
        monkeypatch.setenv("AXONFLOW_ENDPOINT", open_agent.url)
        monkeypatch.delenv("AXONFLOW_CLIENT_SECRET", raising=False)
        example = Path(__file__).resolve().parents[2] / "litellm_config.example.yaml"
        code, out, err = run("doctor", "--config", str(example), "--json", capsys=capsys)
    assert code == 0, out + err
    (report,) = json.loads(out)["guardrails"]
    assert report["guardrail"] == "axonflow"
    assert [c["status"] for c in report["checks"]] == ["ok"] * 5


def test_doctor_finds_every_problem_it_can_detect(
    agent: DevAgent, community: DevAgent, tmp_path: Path
) -> None:
    config = write(
        tmp_path / "litellm_config.yaml",
        {
            "guardrails": [
                entry("good", endpoint=agent.url, client_id=CLIENT_ID, client_secret=SECRET),
                entry(
                    "wrong-secret",
                    endpoint=agent.url,
                    client_id=CLIENT_ID,
                    client_secret=WRONG_SECRET,
                ),
                entry("refused", endpoint=f"http://127.0.0.1:{free_port()}", client_id=CLIENT_ID),
                entry(
                    "community", endpoint=community.url, client_id=CLIENT_ID, client_secret=SECRET
                ),
                entry(
                    "community-no-approvals",
                    endpoint=community.url,
                    client_id=CLIENT_ID,
                    client_secret=SECRET,
                    enable_hitl_polling=False,
                ),
                entry("bad-key", endpoint=agent.url, client_id=CLIENT_ID, fail_opn=False),
                entry("unset-env", endpoint="os.environ/DOCTOR_NOT_SET", client_id=CLIENT_ID),
                {
                    "guardrail_name": "other",
                    "litellm_params": {"guardrail": "presidio", "mode": "pre_call"},
                },
            ]
        },
    )
    done = script("doctor", "--config", str(config), "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is False
    assert report["other_guardrails"] == ["other"]
    checks = {
        g["guardrail"]: {c["check"]: (c["status"], c["detail"]) for c in g["checks"]}
        for g in report["guardrails"]
    }
    assert {k: v[0] for k, v in checks["good"].items()} == {
        "config": "ok",
        "endpoint": "ok",
        "credentials": "ok",
        "approvals": "ok",
        "audit store": "ok",
    }
    assert checks["wrong-secret"]["credentials"][0] == "fail"
    assert "HTTP 401" in checks["wrong-secret"]["credentials"][1]
    assert checks["refused"]["endpoint"][0] == "fail"
    assert "unreachable" in checks["refused"]["endpoint"][1]
    assert checks["refused"]["credentials"][0] == "skip"
    assert checks["community"]["endpoint"][0] == "ok"
    assert "edition community" in checks["community"]["endpoint"][1]
    assert checks["community"]["approvals"][0] == "fail"
    assert "enable_hitl_polling is true (the default)" in checks["community"]["approvals"][1]
    assert checks["community-no-approvals"]["approvals"] == (
        "ok",
        "not used (enable_hitl_polling: false)",
    )
    assert checks["bad-key"]["config"][0] == "fail"
    assert "unknown setting 'fail_opn'" in checks["bad-key"]["config"][1]
    assert checks["unset-env"]["config"][0] == "fail"
    assert "'endpoint' is required" in checks["unset-env"]["config"][1]
    assert SECRET not in done.stdout + done.stderr
    assert WRONG_SECRET not in done.stdout + done.stderr


def test_doctor_exit_2_when_the_file_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run("doctor", "--config", str(tmp_path / "missing.yaml"), capsys=capsys)
    assert code == 2
    assert "cannot read" in err
    (tmp_path / "bad.yaml").write_text("guardrails: [unclosed")
    code, _, err = run("doctor", "--config", str(tmp_path / "bad.yaml"), capsys=capsys)
    assert code == 2
    assert "not valid YAML" in err


def test_doctor_with_no_axonflow_guardrail_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "c.yaml", {"model_list": []})
    code, out, _ = run("doctor", "--config", str(config), capsys=capsys)
    assert code == 1
    assert "no AxonFlow guardrail" in out


# ---------------------------------------------------------------------- approvals


def pending_row(agent: DevAgent, query: str = "wire transfer please") -> str:
    async def create() -> str:
        sdk = agent.sdk_client(CLIENT_ID, SECRET)
        try:
            row = await sdk.create_hitl_request(
                HITLCreateInput(
                    client_id=CLIENT_ID,
                    original_query=query,
                    request_type="llm_chat",
                    request_context={"model": "gpt-x", "key_alias": "alice-key"},
                    triggered_policy_id="demo_wire_transfer_approval",
                    triggered_policy_name="Demo wire transfer",
                    trigger_reason="needs approval",
                )
            )
        finally:
            await sdk.close()
        return row.request_id

    return asyncio.run(create())


@pytest.fixture
def connection(agent: DevAgent, monkeypatch: Any) -> None:
    monkeypatch.setenv("AXONFLOW_ENDPOINT", agent.url)
    monkeypatch.setenv("AXONFLOW_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AXONFLOW_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("AXONFLOW_REVIEWER_EMAIL", "oncall@example.com")


@pytest.mark.usefixtures("connection")
def test_list_show_reject_through_the_script(agent: DevAgent) -> None:
    approval_id = pending_row(agent, "Send a wire transfer\nto account 42")
    listed = script("approvals", "list")
    assert listed.returncode == 0, listed.stderr
    header, row, footer = listed.stdout.splitlines()
    assert header.split() == ["ID", "POLICY", "MODEL", "CALLER", "AGE"]
    assert row.split()[:4] == [approval_id, "demo_wire_transfer_approval", "gpt-x", "key:alice-key"]
    assert footer == "1 pending"
    shown = script("approvals", "show", approval_id)
    assert shown.returncode == 0, shown.stderr
    assert "status:          pending" in shown.stdout
    assert shown.stdout.endswith("prompt:\n  Send a wire transfer\n  to account 42\n")
    rejected = script("approvals", "reject", approval_id, "--reason", "not on a Friday")
    assert rejected.returncode == 0, rejected.stderr
    assert rejected.stdout.startswith(f"rejected {approval_id}")
    (row_after,) = [r for r in agent.requests() if r["path"].endswith("/reject")]
    assert row_after["body"]["comment"] == "not on a Friday"
    assert row_after["body"]["reviewer_email"] == "oncall@example.com"
    assert SECRET not in listed.stdout + shown.stdout + rejected.stdout


@pytest.mark.usefixtures("connection")
def test_approvals_exit_codes(
    agent: DevAgent, community: DevAgent, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    approval_id = pending_row(agent)
    assert run("approvals", "approve", approval_id, "--comment", "ok", capsys=capsys)[0] == 0
    code, _, err = run("approvals", "approve", approval_id, capsys=capsys)
    assert (code, "not pending (HTTP 409)" in err) == (1, True)
    unknown = "00000000-0000-4000-8000-000000000000"
    code, _, err = run("approvals", "show", unknown, capsys=capsys)
    assert (code, "not found (HTTP 404)" in err) == (1, True)
    assert run("approvals", "show", "not-an-id", capsys=capsys)[0] == 2
    code, _, err = run("approvals", "list", "--endpoint", community.url, capsys=capsys)
    assert (code, "no approval queue" in err) == (1, True)
    dead = f"http://127.0.0.1:{free_port()}"
    code, _, err = run("approvals", "list", "--endpoint", dead, capsys=capsys)
    assert (code, "unreachable" in err) == (3, True)
    monkeypatch.setenv("AXONFLOW_CLIENT_SECRET", WRONG_SECRET)
    code, _, err = run("approvals", "list", capsys=capsys)
    assert (code, "HTTP 401" in err, WRONG_SECRET in err) == (1, True, False)
    monkeypatch.delenv("AXONFLOW_REVIEWER_EMAIL")
    assert run("approvals", "reject", unknown, "--reason", "x", capsys=capsys)[0] == 2
    monkeypatch.delenv("AXONFLOW_ENDPOINT")
    code, _, err = run("approvals", "list", capsys=capsys)
    assert (code, "where is AxonFlow" in err) == (2, True)


def test_approvals_take_the_connection_from_the_proxy_config(
    agent: DevAgent, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.delenv("AXONFLOW_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("APPROVALS_SECRET", SECRET)
    config = write(
        tmp_path / "litellm_config.yaml",
        {
            "guardrails": [
                entry("first", endpoint=f"http://127.0.0.1:{free_port()}", client_id="x"),
                entry(
                    "second",
                    endpoint=agent.url,
                    client_id=CLIENT_ID,
                    client_secret="os.environ/APPROVALS_SECRET",
                ),
            ]
        },
    )
    approval_id = pending_row(agent)
    code, out, err = run(
        "approvals",
        "list",
        "--json",
        "--config",
        str(config),
        "--guardrail",
        "second",
        capsys=capsys,
    )
    assert code == 0, err
    (row,) = json.loads(out)["pending"]
    assert row["id"] == approval_id
    assert row["caller"] == "key:alice-key"
    assert row["age_seconds"] is not None
    code, _, err = run(
        "approvals", "list", "--config", str(config), "--guardrail", "nope", capsys=capsys
    )
    assert (code, "no AxonFlow guardrail nope" in err) == (2, True)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["doctor"],
        ["approvals"],
        ["approvals", "list"],
        ["approvals", "show"],
        ["approvals", "approve"],
        ["approvals", "reject"],
        ["dev-agent"],
    ],
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    assert "usage: axonflow-guardrail" in capsys.readouterr().out
