"""`axonflow-guardrail outbox`: what waits in the audit outbox, and its dead letters.

    outbox status                    depth, oldest age, dead letters, retroactive verdicts
    outbox dead-letters              the records AxonFlow refused for good, with their errors
    outbox retry RECORD_ID... | --all     back to pending: the shipper sends them again
    outbox purge RECORD_ID... | --all     delete them (an operator's decision, never automatic)

Read-only except `retry` and `purge`; safe while the proxy runs (SQLite's WAL, Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from axonflow_guardrail.cli._guardrail_config import add_outbox_arguments

__all__ = ["add_outbox"]


def add_outbox(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "outbox", help="inspect the audit outbox; list, retry or purge its dead letters"
    )
    verbs = parser.add_subparsers(title="verbs", metavar="VERB", required=True)
    status = verbs.add_parser("status", help="depth, oldest age, dead letters, verdicts")
    listing = verbs.add_parser("dead-letters", help="list the dead letters")
    listing.add_argument("--limit", type=int, default=100)
    retry = verbs.add_parser("retry", help="send dead letters again")
    purge = verbs.add_parser("purge", help="delete dead letters")
    for verb in (retry, purge):
        group = verb.add_mutually_exclusive_group(required=True)
        group.add_argument("record_ids", nargs="*", default=[], metavar="RECORD_ID")
        group.add_argument("--all", action="store_true", help="every dead letter")
    for verb, action in ((status, _status), (listing, _list), (retry, _retry), (purge, _purge)):
        add_outbox_arguments(verb, config_required=False)
        verb.add_argument("--json", action="store_true", help="print JSON")
        verb.set_defaults(handler=lambda args, act=action: _with_outbox(args, act))


Action = Callable[[Any, argparse.Namespace], Awaitable[Any]]


def _with_outbox(args: argparse.Namespace, action: Action) -> int:
    from axonflow_guardrail._settings import ConfigurationError
    from axonflow_guardrail.cli._guardrail_config import load_settings

    try:
        settings, channel = load_settings(args)
    except ConfigurationError as exc:
        print(f"axonflow-guardrail outbox: {exc}", file=sys.stderr)
        return 2

    async def run() -> Any:
        from axonflow_guardrail.audit._outbox_setup import open_outbox

        outbox = open_outbox(settings, channel=channel, ships=False, location=args.outbox)
        try:
            return await action(outbox, args)
        finally:
            await outbox.close()

    try:
        result = asyncio.run(run())
    except ConfigurationError as exc:
        print(f"axonflow-guardrail outbox: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(_text(result))
    return 0


async def _status(outbox: Any, args: argparse.Namespace) -> Any:
    status = await outbox.status()
    return {"kind": "status", **status.to_json()}


async def _list(outbox: Any, args: argparse.Namespace) -> Any:
    letters = await outbox.dead_letters(args.limit)
    return {"kind": "dead_letters", "dead_letters": [d.to_json() for d in letters]}


async def _retry(outbox: Any, args: argparse.Namespace) -> Any:
    moved = await outbox.retry_dead_letters(None if args.all else args.record_ids)
    return {"kind": "retried", "retried": moved}


async def _purge(outbox: Any, args: argparse.Namespace) -> Any:
    purged = await outbox.purge_dead_letters(None if args.all else args.record_ids)
    return {"kind": "purged", "purged": purged}


def _text(result: dict[str, Any]) -> str:
    kind = result["kind"]
    if kind == "retried":
        return f"{result['retried']} dead letter(s) back to pending"
    if kind == "purged":
        return f"{result['purged']} dead letter(s) purged"
    if kind == "dead_letters":
        rows = result["dead_letters"]
        if not rows:
            return "no dead letters"
        return "\n".join(
            f"{d['record_id']}  call_id={d['call_id']}  attempts={d['attempts']}  "
            f"dead {_ago(d['dead_at'])}: {d['error']}"
            for d in rows
        )
    age = result["oldest_age_seconds"]
    counters = result["counters"]
    lines = [
        f"outbox      {result['backend']} {result['location']} (channel {result['channel']})",
        f"pending     {result['pending']} record(s), {result['pending_bytes']} bytes"
        + (f", oldest {age:.1f} s" if age is not None else ""),
        f"dead        {result['dead_letters']} letter(s), {result['dead_letter_bytes']} bytes",
        f"delivered   {counters['delivered']}; refused (outbox full) "
        f"{counters['refused_full']}; resent after a lost answer "
        f"{counters['resent_after_lost_answer']}",
        "retroactive "
        + ", ".join(f"{k} {v}" for k, v in sorted(result["retroactive_verdicts"].items())),
    ]
    for call in result["flagged"]:
        lines.append(
            f"  would have been stopped: call_id={call['call_id']} verdict={call['verdict']} "
            f"policies={','.join(call['policies']) or '-'}"
        )
    return "\n".join(lines)


def _ago(at: float | None) -> str:
    return "?" if at is None else f"{max(0.0, time.time() - at):.0f} s ago"
