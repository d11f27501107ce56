"""`axonflow-guardrail ship-audits`: deliver the audit outbox from a process of its own.

For operators who want the proxy's workers to do nothing but write each record (the
guardrail's `audit_shipper: external`): this process claims the records, sends them to
AxonFlow with the same retries, breaker, dead letters and retroactive pre-checks as the
in-process shipper, and stops cleanly on SIGTERM (what it holds goes back to the outbox).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from axonflow_guardrail.cli._guardrail_config import add_outbox_arguments

__all__ = ["add_ship_audits"]


def add_ship_audits(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "ship-audits",
        help="deliver the guardrail's audit outbox to AxonFlow from a separate process",
        description="Claim the audit records in the outbox and deliver them to AxonFlow "
        "(see the README's 'Delivery guarantees').",
    )
    add_outbox_arguments(parser, config_required=True)
    parser.add_argument(
        "--once", action="store_true", help="deliver what can be delivered now, then exit"
    )
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from axonflow_guardrail._settings import ConfigurationError
    from axonflow_guardrail.cli._guardrail_config import load_settings

    try:
        settings, channel = load_settings(args)
    except ConfigurationError as exc:
        print(f"axonflow-guardrail ship-audits: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_ship(settings, channel, args))


async def _ship(settings: object, channel: str, args: argparse.Namespace) -> int:
    from axonflow_guardrail._log import log
    from axonflow_guardrail._settings import ConfigurationError, GuardrailSettings
    from axonflow_guardrail.audit._outbox_setup import open_outbox, shipper_for
    from axonflow_guardrail.axonflow._breakers import Breakers
    from axonflow_guardrail.axonflow._client import AxonFlowClient

    assert isinstance(settings, GuardrailSettings)
    try:
        outbox = open_outbox(settings, channel=channel, ships=True, location=args.outbox)
    except ConfigurationError as exc:
        print(f"axonflow-guardrail ship-audits: {exc}", file=sys.stderr)
        return 2
    client = AxonFlowClient(
        endpoint=settings.endpoint,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        tenant_id=settings.tenant_id,
        call_timeout_seconds=settings.call_timeout_seconds,
        breakers=Breakers.create(
            failure_threshold=settings.breaker_failure_threshold,
            recovery_seconds=settings.breaker_recovery_seconds,
        ),
        declares_redaction=False,
    )
    shipper = shipper_for(settings, outbox=outbox, client=client)
    log.info("axonflow ship-audits: delivering %s (channel %s)", outbox.location, channel)
    try:
        if args.once:
            await shipper.run_until_empty()
        else:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            shipper.start()
            await stop.wait()
            log.info("axonflow ship-audits: stopping")
    finally:
        await shipper.stop()
        await outbox.close()
        await client.close()
    return 0
