"""The `axonflow-guardrail` command line.

Each subcommand lives in its own module (`_dev_agent`, `_doctor`, `_approvals`), which
registers its parser and a handler returning the exit code (the codes: `_output`).
Subcommands import their implementation lazily: the dev agent must start in well under two
seconds and the approvals commands in about one, so neither pays for importing litellm; only
what reads a proxy config does (`_proxy_config`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from axonflow_guardrail.cli._approvals import add_approvals
from axonflow_guardrail.cli._dev_agent import add_dev_agent
from axonflow_guardrail.cli._doctor import add_doctor
from axonflow_guardrail.cli._outbox import add_outbox
from axonflow_guardrail.cli._ship_audits import add_ship_audits

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="axonflow-guardrail",
        description="AxonFlow governance for the LiteLLM Proxy: tools.",
    )
    parser.add_argument("--version", action="version", version=version_text())
    subcommands = parser.add_subparsers(title="subcommands", metavar="COMMAND")
    add_dev_agent(subcommands)
    add_ship_audits(subcommands)
    add_outbox(subcommands)
    add_doctor(subcommands)
    add_approvals(subcommands)
    return parser


def version_text() -> str:
    """This package's version and the LiteLLM and SDK it runs with, read from the installed
    distributions' metadata (importing litellm would cost seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return (
        f"axonflow-guardrail {installed('axonflow-guardrail')} "
        f"(litellm {installed('litellm')}, axonflow {installed('axonflow')})"
    )
