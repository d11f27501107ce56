"""The policy file: the shipped default, validation errors, evaluation order."""

from __future__ import annotations

from pathlib import Path

import pytest

from axonflow_guardrail.cli import main
from axonflow_guardrail.dev_agent import PolicyFileError, load_policies
from axonflow_guardrail.dev_agent._policies import ALL_ACTIONS, BLOCK_AND_REDACT, parse_policies


def test_default_policies_ship_the_platform_set() -> None:
    policies = {p.id: p for p in load_policies().policies}
    expected = {
        "sys_sqli_union_select": "block",
        "sys_sqli_or_true": "block",
        "sys_sqli_drop_table": "block",
        "sys_pii_ssn": "redact",
        "sys_pii_credit_card": "redact",
        "sys_pii_email": "log",
        "demo_wire_transfer_approval": "require_approval",
        "demo_output_private_key": "block",
    }
    assert {pid: policies[pid].action for pid in expected} == expected
    assert policies["sys_pii_credit_card"].validator == "luhn"
    assert policies["demo_output_private_key"].applies_to == "output"
    assert policies["sys_sqli_union_select"].pattern.pattern == r"(?i)\bUNION\s+(ALL\s+)?SELECT\b"


def test_default_file_is_inside_the_package() -> None:
    import axonflow_guardrail.dev_agent as package

    assert (Path(package.__file__).parent / "default_policies.yaml").is_file()


def test_evaluation_phases_and_actions() -> None:
    policies = load_policies()
    key = "-----BEGIN PRIVATE KEY-----"
    assert policies.evaluate([key], phase="input", actions=ALL_ACTIONS).blocked_by is None
    blocked = policies.evaluate([key], phase="output", actions=BLOCK_AND_REDACT).blocked_by
    assert blocked is not None
    assert blocked.id == "demo_output_private_key"
    # check-input/check-output only weigh block and redact policies.
    result = policies.evaluate(["wire transfer a@b.io"], phase="input", actions=BLOCK_AND_REDACT)
    assert result.matched == []


def test_priority_then_file_order() -> None:
    policies = parse_policies(
        [
            {"id": "a", "pattern": "x", "action": "log"},
            {"id": "b", "pattern": "x", "action": "log", "priority": 5},
            {"id": "c", "pattern": "x", "action": "log"},
        ],
        source="t",
    )
    assert [p.id for p in policies.policies] == ["b", "a", "c"]


def test_disabled_policy_is_skipped() -> None:
    policies = parse_policies(
        [{"id": "a", "pattern": "x", "action": "block", "enabled": False}], source="t"
    )
    assert policies.evaluate(["x"], phase="input", actions=ALL_ACTIONS).blocked_by is None


GOOD = {"id": "p1", "pattern": "x", "action": "block"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not a list", "expected a mapping"),
        ({"policies": "x"}, "'policies' must be a list"),
        ({"version": 2, "policies": []}, "'version' must be 1"),
        ({"policy": []}, "unknown top-level key(s) policy"),
        ([42], "policies[0]: each policy must be a mapping"),
        ([{"pattern": "x", "action": "block"}], "'id' is required"),
        ([{"id": "bad id!", "pattern": "x", "action": "block"}], "'id' is required"),
        ([{"id": "p", "action": "block"}], "'pattern' is required"),
        ([{"id": "p", "pattern": "(", "action": "block"}], "not a valid regex"),
        ([{"id": "p", "pattern": "a*", "action": "block"}], "matches the empty string"),
        ([{"id": "p", "pattern": "x"}], "'action' is required"),
        ([{"id": "p", "pattern": "x", "action": "deny"}], "'action' must be one of"),
        ([{**GOOD, "severity": "extreme"}], "'severity' must be one of"),
        ([{**GOOD, "applies_to": "request"}], "'applies_to' must be one of"),
        ([{**GOOD, "priority": "high"}], "'priority' must be an integer"),
        ([{**GOOD, "priority": True}], "'priority' must be an integer"),
        ([{**GOOD, "enabled": "yes"}], "'enabled' must be true or false"),
        ([{**GOOD, "mask": "partial"}], "'mask' only applies to action 'redact'"),
        ([{**GOOD, "action": "redact", "mask": "blur"}], "'mask' must be one of"),
        ([{**GOOD, "validator": "mod97"}], "'validator' must be one of"),
        ([{**GOOD, "descrption": "typo"}], "unknown field(s) descrption"),
        ([{**GOOD, "description": ""}], "'description' must be a non-empty string"),
        ([GOOD, GOOD], "duplicate id 'p1'"),
    ],
)
def test_validation_errors(document: object, message: str) -> None:
    with pytest.raises(PolicyFileError) as caught:
        parse_policies(document, source="my.yaml")
    assert str(caught.value).startswith("my.yaml:")
    assert message in str(caught.value)


def test_error_names_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "policies:\n  - id: ok\n    pattern: x\n    action: log\n"
        "  - id: broken\n    pattern: x\n    action: nope\n"
    )
    with pytest.raises(PolicyFileError, match=r"p\.yaml: policies\[1\] \(id 'broken'\)"):
        load_policies(path)


def test_yaml_and_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies: [\n")
    with pytest.raises(PolicyFileError, match="not valid YAML"):
        load_policies(bad)
    with pytest.raises(PolicyFileError, match="cannot read the policy file"):
        load_policies(tmp_path / "missing.yaml")


def test_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\npolicies:\n"
        "  - id: secret_word\n    description: No secrets\n    pattern: '(?i)\\bswordfish\\b'\n"
        "    action: redact\n    mask: hash\n    applies_to: output\n    severity: critical\n"
    )
    (policy,) = load_policies(path).policies
    assert (policy.mask, policy.applies_to, policy.severity) == ("hash", "output", "critical")


def test_cli_refuses_an_invalid_policy_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies:\n  - id: x\n    pattern: '('\n    action: block\n")
    assert main(["dev-agent", "--port", "0", "--policies", str(bad)]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "LOCAL EMULATOR" in lines[0]
    assert "invalid policy file" in err
    assert "not a valid regex" in err


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    with pytest.raises(SystemExit) as caught:
        main(["dev-agent", "--client", "id-without-secret-TOPSECRET"])
    assert caught.value.code == 2
    assert "TOPSECRET" not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["dev-agent", "--edition", "platinum"])
