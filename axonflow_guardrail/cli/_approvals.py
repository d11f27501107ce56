"""`axonflow-guardrail approvals list|show|approve|reject`: the approval queue for reviewers
and on-call, against any AxonFlow endpoint, through the official SDK.

Where to connect: `--config litellm_config.yaml [--guardrail NAME]` takes the endpoint and
credentials of a guardrail entry (read as LiteLLM reads it); otherwise `--endpoint` /
`AXONFLOW_ENDPOINT` and `--client-id` / `AXONFLOW_CLIENT_ID`, with the secret only from
`AXONFLOW_CLIENT_SECRET` (a secret on the command line would show in `ps`). The reviewer who
approves or rejects is `--reviewer-id` / `AXONFLOW_REVIEWER_ID` (default: the login name) and
`--reviewer-email` / `AXONFLOW_REVIEWER_EMAIL`, as AxonFlow records them.

A held proxy request goes on within one poll interval of `approve`; a client that already got
`approval_pending` re-sends its request with the id. Exit codes: `_output`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axonflow_guardrail.cli._output import OK, PROBLEM, UNAVAILABLE, USAGE, print_json, table

if TYPE_CHECKING:
    import axonflow
    from axonflow.hitl import HITLApprovalRequest

__all__ = ["add_approvals"]

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_FRACTION = re.compile(r"(\.\d{6})\d+")


class UsageError(Exception):
    """The command cannot run as asked (exit 2)."""


def add_approvals(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    connection = argparse.ArgumentParser(add_help=False)
    where = connection.add_argument_group("where to connect")
    where.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="take endpoint and credentials from this proxy YAML",
    )
    where.add_argument(
        "--guardrail",
        metavar="NAME",
        help="which AxonFlow guardrail of --config (default: the first)",
    )
    where.add_argument("--endpoint", metavar="URL", help="AxonFlow endpoint (AXONFLOW_ENDPOINT)")
    where.add_argument("--client-id", metavar="ID", help="AxonFlow client id (AXONFLOW_CLIENT_ID)")
    where.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="per call (default 10)"
    )
    reviewer = argparse.ArgumentParser(add_help=False)
    who = reviewer.add_argument_group("reviewer")
    who.add_argument("--reviewer-id", metavar="ID", help="AXONFLOW_REVIEWER_ID, else login name")
    who.add_argument("--reviewer-email", metavar="EMAIL", help="AXONFLOW_REVIEWER_EMAIL")

    parser = subcommands.add_parser(
        "approvals",
        help="list, show, approve or reject requests held for human approval",
        description=(
            "The AxonFlow approval queue, for reviewers and on-call. The client secret is read "
            "from AXONFLOW_CLIENT_SECRET (or the proxy config), never from the command line. "
            "Exit status: 0 done, 1 AxonFlow refused (unknown id, not pending, credentials, "
            "no approval queue), 2 bad usage, 3 AxonFlow unreachable."
        ),
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    listing = actions.add_parser(
        "list", parents=[connection], help="pending requests: policy, model, caller, age"
    )
    listing.add_argument("--limit", type=int, default=50, help="at most (default 50)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_run, action="list")
    show = actions.add_parser("show", parents=[connection], help="one request, prompt included")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_run, action="show")
    approve = actions.add_parser(
        "approve", parents=[connection, reviewer], help="approve a pending request"
    )
    approve.add_argument("id", metavar="ID")
    approve.add_argument("--comment", help="recorded with the approval")
    approve.set_defaults(handler=_run, action="approve")
    reject = actions.add_parser(
        "reject", parents=[connection, reviewer], help="reject a pending request"
    )
    reject.add_argument("id", metavar="ID")
    reject.add_argument("--reason", required=True, help="why (recorded with the rejection)")
    reject.set_defaults(handler=_run, action="reject")
    parser.set_defaults(handler=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return USAGE


@dataclass(frozen=True, slots=True)
class Connection:
    endpoint: str
    client_id: str
    client_secret: str


def _run(args: argparse.Namespace) -> int:
    from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind

    try:
        connection = _connection(args)
        if args.action != "list" and _UUID.fullmatch(args.id) is None:
            raise UsageError(f"{args.id!r} is not an approval request id (a UUID)")
        return asyncio.run(_act(args, connection))
    except UsageError as exc:
        print(f"axonflow-guardrail approvals: {exc}", file=sys.stderr)
        return USAGE
    except AxonFlowFailure as failure:
        from axonflow_guardrail.axonflow._operator import server_message

        message = _explain(failure, server_message(failure), action=args.action)
        print(f"axonflow-guardrail approvals: {message}", file=sys.stderr)
        refused = failure.kind is FailureKind.REJECTED or (
            failure.status is not None and 400 <= failure.status < 500
        )
        return PROBLEM if refused else UNAVAILABLE


def _explain(failure: Any, message: str, *, action: str) -> str:
    if failure.status == 404 and action == "list":
        return "this AxonFlow has no approval queue (HTTP 404: Community edition?)"
    if failure.status == 404:
        return f"not found (HTTP 404): {message}"
    if failure.status == 401:
        return "AxonFlow refused these credentials (HTTP 401)"
    if failure.status == 409:
        return f"not pending (HTTP 409): {message}"
    return message


async def _act(args: argparse.Namespace, connection: Connection) -> int:
    from axonflow_guardrail.axonflow import _operator as operator

    sdk = operator.operator_client(
        endpoint=connection.endpoint,
        client_id=connection.client_id,
        client_secret=connection.client_secret,
        timeout=args.timeout,
    )
    try:
        return await _dispatch(sdk, args)
    finally:
        await sdk.close()


async def _dispatch(sdk: axonflow.AxonFlow, args: argparse.Namespace) -> int:
    from axonflow_guardrail.axonflow import _operator as operator

    timeout = args.timeout
    if args.action == "list":
        rows, total = await operator.list_pending(sdk, limit=args.limit, timeout=timeout)
        _print_list(rows, total, as_json=args.json)
    elif args.action == "show":
        row = await operator.get_approval(sdk, args.id, timeout=timeout)
        _print_row(row, as_json=args.json)
    else:
        reviewer = _reviewer(args)
        if args.action == "approve":
            await operator.approve(
                sdk, args.id, reviewer=reviewer, comment=args.comment, timeout=timeout
            )
        else:
            await operator.reject(
                sdk, args.id, reviewer=reviewer, reason=args.reason, timeout=timeout
            )
        verb = "approved" if args.action == "approve" else "rejected"
        print(f"{verb} {args.id.lower()} (reviewer {reviewer.reviewer_id})")
    return OK


# ---------------------------------------------------------------------- where and who


def _connection(args: argparse.Namespace) -> Connection:
    endpoint, client_id = args.endpoint, args.client_id
    secret = os.environ.get("AXONFLOW_CLIENT_SECRET", "")
    if args.config is not None:
        from_config = _from_config(args.config, args.guardrail)
        endpoint = endpoint or from_config.endpoint
        client_id = client_id or from_config.client_id
        secret = from_config.client_secret
    elif args.guardrail is not None:
        raise UsageError("--guardrail needs --config")
    endpoint = endpoint or os.environ.get("AXONFLOW_ENDPOINT")
    client_id = client_id or os.environ.get("AXONFLOW_CLIENT_ID")
    if not endpoint or not client_id:
        raise UsageError(
            "where is AxonFlow? give --config, or --endpoint/AXONFLOW_ENDPOINT and "
            "--client-id/AXONFLOW_CLIENT_ID (secret: AXONFLOW_CLIENT_SECRET)"
        )
    return Connection(endpoint=endpoint.rstrip("/"), client_id=client_id, client_secret=secret)


def _from_config(path: Path, name: str | None) -> Connection:
    from axonflow_guardrail._settings import ConfigurationError
    from axonflow_guardrail._startup import read_configuration
    from axonflow_guardrail.cli._proxy_config import (
        ProxyConfigError,
        axonflow_entries,
        load_proxy_config,
    )

    try:
        entries = axonflow_entries(load_proxy_config(path), config_path=path)
    except ProxyConfigError as exc:
        raise UsageError(str(exc)) from None
    chosen = [e for e in entries if name is None or e.name == name]
    if not chosen:
        raise UsageError(f"no AxonFlow guardrail {name or ''} in {path}".replace("  ", " "))
    entry = chosen[0]
    if entry.kwargs is None:
        raise UsageError(f"guardrail {entry.name}: {entry.problem}")
    try:
        settings = read_configuration(entry.kwargs)[0]
    except ConfigurationError as exc:
        raise UsageError(f"guardrail {entry.name}: {exc}") from None
    return Connection(settings.endpoint, settings.client_id, settings.client_secret)


def _reviewer(args: argparse.Namespace) -> Any:
    from axonflow_guardrail.axonflow._operator import ReviewerIdentity

    reviewer_id = args.reviewer_id or os.environ.get("AXONFLOW_REVIEWER_ID") or _login()
    email = args.reviewer_email or os.environ.get("AXONFLOW_REVIEWER_EMAIL")
    if not email:
        raise UsageError("--reviewer-email (or AXONFLOW_REVIEWER_EMAIL) is required")
    return ReviewerIdentity(reviewer_id=reviewer_id, reviewer_email=email)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


# ---------------------------------------------------------------------- output


def _caller(row: HITLApprovalRequest) -> str:
    context = row.request_context or {}
    for key, label in (("key_alias", "key"), ("user_id", "user"), ("team_id", "team")):
        value = context.get(key)
        if isinstance(value, str) and value:
            return f"{label}:{value}"
    if row.user_id:
        return f"user:{row.user_id}"
    return f"client:{row.client_id}"


def _model(row: HITLApprovalRequest) -> str:
    model = (row.request_context or {}).get("model")
    return str(model) if model else "-"


def _seconds_since(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", stamp.strip()))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return max(0.0, time.time() - parsed.timestamp())


def _age(stamp: str | None) -> str:
    seconds = _seconds_since(stamp)
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _print_list(rows: list[HITLApprovalRequest], total: int, *, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "total": total,
                "pending": [
                    {
                        "id": r.request_id,
                        "policy": r.triggered_policy_id,
                        "model": _model(r),
                        "caller": _caller(r),
                        "age_seconds": _seconds_since(r.created_at),
                        "created_at": r.created_at,
                        "expires_at": r.expires_at,
                        "severity": r.severity,
                    }
                    for r in rows
                ],
            }
        )
        return
    if not rows:
        print("no pending approval requests")
        return
    print(
        table(
            ["ID", "POLICY", "MODEL", "CALLER", "AGE"],
            [
                [r.request_id, r.triggered_policy_id, _model(r), _caller(r), _age(r.created_at)]
                for r in rows
            ],
        )
    )
    print(f"{len(rows)} pending" + (f" (of {total})" if total > len(rows) else ""))


def _print_row(row: HITLApprovalRequest, *, as_json: bool) -> None:
    if as_json:
        print_json(row.model_dump())
        return
    context = row.request_context or {}
    fields = [
        ("id", row.request_id),
        ("status", row.status),
        ("policy", row.triggered_policy_id),
        ("reason", row.trigger_reason),
        ("severity", row.severity),
        ("model", _model(row)),
        ("caller", _caller(row)),
        ("call type", str(context.get("call_type") or "-")),
        ("litellm call id", str(context.get("litellm_call_id") or "-")),
        ("created", f"{row.created_at} ({_age(row.created_at)} ago)"),
        ("expires", str(row.expires_at)),
    ]
    if row.reviewer_id or row.reviewer_email:
        fields.append(("reviewer", f"{row.reviewer_id or '-'} <{row.reviewer_email or '-'}>"))
    if row.review_comment:
        fields.append(("comment", row.review_comment))
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        print(f"{(name + ':').ljust(width + 1)} {value}")
    print("prompt:")
    for line in row.original_query.splitlines() or [""]:
        print(f"  {line}")
