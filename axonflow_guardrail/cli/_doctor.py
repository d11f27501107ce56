"""`axonflow-guardrail doctor --config litellm_config.yaml`: find a misconfiguration before
the first request does.

For each AxonFlow guardrail in the proxy's config, read as LiteLLM reads it (`_proxy_config`):

- **config**: the guardrail's own settings code validates it (`_startup.check_configuration`),
  the error naming the bad key, exactly as the proxy would refuse to start;
- **endpoint**: `/health` answers (version, edition, round trip);
- **credentials**: one harmless pre-check with the guardrail's credentials and default user
  token (AxonFlow records it like any decision; its text says it is the doctor's);
- **approvals**: when the guardrail holds requests for approval (`enable_hitl_polling`, on by
  default, with a pre-call mode), the platform has an approval queue (Enterprise);
- **audit store**: where audits wait (`audit._store_status`, the step the durable outbox
  fills in).

A table on stdout (`--json` for machines); exit 1 when any check fails (see `_output`).
Never printed: the client secret, user tokens, the endpoint's user:password part.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from axonflow_guardrail.cli._output import OK, PROBLEM, USAGE, print_json, table

if TYPE_CHECKING:
    from axonflow_guardrail._settings import GuardrailSettings
    from axonflow_guardrail.cli._proxy_config import GuardrailEntry

__all__ = ["add_doctor"]

Status = Literal["ok", "warn", "fail", "skip"]
_PRE_CALL_MODES = frozenset({"pre_call", "during_call"})


def add_doctor(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "doctor",
        help="check the AxonFlow guardrails of a proxy config against AxonFlow",
        description=(
            "Read the guardrail entries of a LiteLLM proxy config as LiteLLM would (includes, "
            "environment_variables, os.environ/ references), validate them with the "
            "guardrail's own settings code, then for each: reach the endpoint, authenticate "
            "with one harmless pre-check, check that approvals are available when the config "
            "relies on them, and check where audits wait. Exit status: 0 no problem, 1 a "
            "problem found, 2 the config file cannot be read."
        ),
    )
    parser.add_argument("--config", required=True, type=Path, metavar="FILE", help="proxy YAML")
    parser.add_argument("--json", action="store_true", help="print a JSON report instead")
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="the most each AxonFlow call may take (default %(default)s)",
    )
    parser.set_defaults(handler=_run)


@dataclass
class Check:
    check: str
    status: Status
    detail: str
    ms: float | None = None


@dataclass
class GuardrailReport:
    guardrail: str
    endpoint: str | None = None
    client_id: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks)


def _run(args: argparse.Namespace) -> int:
    from axonflow_guardrail.cli._proxy_config import (
        ProxyConfigError,
        axonflow_entries,
        load_proxy_config,
    )

    try:
        config = load_proxy_config(args.config)
    except ProxyConfigError as exc:
        print(f"axonflow-guardrail doctor: {exc}", file=sys.stderr)
        return USAGE
    entries = axonflow_entries(config, config_path=args.config)
    others = [
        str(g.get("guardrail_name"))
        for g in config.get("guardrails") or []
        if isinstance(g, dict) and str(g.get("guardrail_name")) not in {e.name for e in entries}
    ]
    reports = asyncio.run(_check_all(entries, timeout=args.timeout))
    problems = not reports or any(r.failed for r in reports)
    if args.json:
        print_json(
            {
                "config": str(args.config),
                "ok": not problems,
                "guardrails": [asdict(r) for r in reports],
                "other_guardrails": others,
            }
        )
    else:
        _print_table(args.config, reports, others)
    return PROBLEM if problems else OK


async def _check_all(entries: list[GuardrailEntry], *, timeout: float) -> list[GuardrailReport]:
    return list(await asyncio.gather(*(_check(e, timeout=timeout) for e in entries)))


async def _check(entry: GuardrailEntry, *, timeout: float) -> GuardrailReport:
    from axonflow_guardrail._settings import ConfigurationError
    from axonflow_guardrail._startup import check_configuration

    report = GuardrailReport(guardrail=entry.name)
    if entry.kwargs is None:
        report.checks.append(Check("config", "fail", entry.problem or "cannot be built"))
        return _skip_rest(report)
    try:
        settings, modes = check_configuration(entry.kwargs)
    except ConfigurationError as exc:
        report.checks.append(Check("config", "fail", str(exc)))
        return _skip_rest(report)
    report.endpoint, report.client_id = _shown(settings.endpoint), settings.client_id
    report.checks.append(_config_check(settings, modes))
    await _platform_checks(report, settings, modes, entry, timeout=timeout)
    return report


def _config_check(settings: GuardrailSettings, modes: frozenset[str]) -> Check:
    detail = (
        f"mode {','.join(sorted(modes))}; fail_open {str(settings.fail_open).lower()}; "
        f"enforcement {settings.enforcement_mode}"
    )
    if "post_call" not in modes:
        return Check("config", "warn", detail + "; no post_call: calls are not audited")
    return Check("config", "ok", detail)


async def _platform_checks(
    report: GuardrailReport,
    settings: GuardrailSettings,
    modes: frozenset[str],
    entry: GuardrailEntry,
    *,
    timeout: float,
) -> None:
    from axonflow_guardrail.audit._store_status import audit_store_status
    from axonflow_guardrail.axonflow import _operator as operator
    from axonflow_guardrail.axonflow._failures import AxonFlowFailure

    sdk = operator.operator_client(
        endpoint=settings.endpoint,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        timeout=timeout,
    )
    add = report.checks.append
    try:
        try:
            health = await operator.platform_health(sdk, timeout=timeout)
        except AxonFlowFailure as failure:
            add(Check("endpoint", "fail", f"{report.endpoint}: {failure.reason}"))
            _skip_rest(report, keep_audit=True)
        else:
            status: Status = "ok" if health.status == "healthy" else "warn"
            detail = (
                f"{report.endpoint} {health.status}; version {health.version}; "
                f"edition {health.edition or 'not reported'}; {health.rtt_ms:.1f} ms"
            )
            add(Check("endpoint", status, detail, round(health.rtt_ms, 1)))
            try:
                result, rtt = await operator.doctor_pre_check(
                    sdk, user_token=settings.default_user_token, timeout=timeout
                )
            except AxonFlowFailure as failure:
                add(Check("credentials", "fail", _credentials_problem(failure, settings)))
                _skip_rest(report, keep_audit=True)
            else:
                verdict = result.verdict or ("allow" if result.approved else "deny")
                detail = (
                    f"client_id {settings.client_id} accepted; pre-check answered "
                    f"{verdict} in {rtt:.1f} ms"
                )
                add(Check("credentials", "ok", detail, round(rtt, 1)))
                add(await _approvals_check(sdk, settings, modes, entry, health.edition, timeout))
    finally:
        await sdk.close()
    store = await audit_store_status(settings, channel=report.guardrail)
    add(Check("audit store", store.status, store.detail))


async def _approvals_check(
    sdk: Any,
    settings: GuardrailSettings,
    modes: frozenset[str],
    entry: GuardrailEntry,
    edition: str | None,
    timeout: float,
) -> Check:
    from axonflow_guardrail.axonflow import _operator as operator
    from axonflow_guardrail.axonflow._failures import AxonFlowFailure

    if not settings.enable_hitl_polling:
        return Check("approvals", "ok", "not used (enable_hitl_polling: false)")
    if not modes & _PRE_CALL_MODES:
        return Check("approvals", "ok", "not used (no pre_call or during_call mode)")
    try:
        available, pending = await operator.approvals_available(sdk, timeout=timeout)
    except AxonFlowFailure as failure:
        return Check("approvals", "fail", f"the approval queue did not answer: {failure.reason}")
    if available:
        return Check("approvals", "ok", f"approval queue available ({pending} pending)")
    how = "" if "enable_hitl_polling" in entry.set_keys else " (the default)"
    return Check(
        "approvals",
        "fail",
        f"enable_hitl_polling is true{how} but the platform has no approval queue "
        f"(edition {edition or 'not reported'}): require_approval policies are not held for "
        "a reviewer there. Use AxonFlow Enterprise, or set enable_hitl_polling: false.",
    )


def _credentials_problem(failure: Any, settings: GuardrailSettings) -> str:
    if failure.status == 401:
        return (
            f"AxonFlow refused client_id {settings.client_id} with its secret (or the "
            "default_user_token): HTTP 401"
        )
    if failure.status in (402, 403):
        return f"the pre-check was refused (HTTP {failure.status}): {failure.reason}"
    return f"the pre-check failed: {failure.reason}"


def _skip_rest(report: GuardrailReport, *, keep_audit: bool = False) -> GuardrailReport:
    done = {c.check for c in report.checks}
    for name in ("endpoint", "credentials", "approvals", "audit store"):
        if name not in done and not (keep_audit and name == "audit store"):
            report.checks.append(Check(name, "skip", "not checked (see above)"))
    return report


def _shown(endpoint: str) -> str:
    """The endpoint without any user:password part."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _print_table(path: Path, reports: list[GuardrailReport], others: list[str]) -> None:
    print(f"axonflow-guardrail doctor: {path}")
    if not reports:
        print("no AxonFlow guardrail (axonflow_guardrail.AxonFlowGuardrail) in this config")
        return
    rows = [
        [r.guardrail, c.check, c.status.upper() if c.status == "fail" else c.status, c.detail]
        for r in reports
        for c in r.checks
    ]
    print(table(["GUARDRAIL", "CHECK", "STATUS", "DETAIL"], rows))
    failed = sum(1 for r in reports if r.failed)
    summary = f"{len(reports)} AxonFlow guardrail(s) checked: "
    summary += f"{failed} with problems." if failed else "no problems."
    if others:
        summary += f" Not AxonFlow, not checked: {', '.join(others)}."
    print(summary)
