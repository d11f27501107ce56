"""The `axonflow-guardrail` command line.

Each subcommand registers its own parser and a handler returning the exit code, so new
subcommands are one function each. Subcommands import their implementation lazily: the dev
agent must start in well under two seconds, so it never pays for importing litellm.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

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
    _add_dev_agent(subcommands)
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


# ---------------------------------------------------------------------- dev-agent


def _add_dev_agent(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from axonflow_guardrail.dev_agent._config import (
        DEFAULT_HITL_PENDING_CAP,
        DEFAULT_HOST,
        DEFAULT_PORT,
        EDITIONS,
    )

    parser = subcommands.add_parser(
        "dev-agent",
        help="run a LOCAL EMULATOR of the AxonFlow agent (dev and tests only, not AxonFlow)",
        description=(
            "Run a local emulator of the AxonFlow agent for development, tests and the "
            "benchmark. It is NOT AxonFlow and gives no real governance: never use it in "
            "production. See docs/dev-agent.md."
        ),
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="port (default %(default)s; 0: any free)"
    )
    parser.add_argument(
        "--policies",
        type=Path,
        metavar="FILE",
        help="policy YAML file (default: the packaged default_policies.yaml)",
    )
    parser.add_argument(
        "--edition",
        choices=EDITIONS,
        default="enterprise",
        help="enterprise (HITL queue on) or community (HITL off, approvals auto-approve)",
    )
    parser.add_argument(
        "--client",
        dest="clients",
        action="append",
        default=[],
        type=_client,
        metavar="ID:SECRET",
        help="accepted Basic credentials (repeatable); without any, every client id passes",
    )
    parser.add_argument(
        "--hitl-pending-cap",
        type=_positive_int,
        default=DEFAULT_HITL_PENDING_CAP,
        help="pending approval requests before create answers 429 (default %(default)s)",
    )
    parser.add_argument(
        "--require-user-token",
        action="store_true",
        help="answer 401 to pre-checks whose user_token is empty or 'anonymous'",
    )
    parser.add_argument(
        "--v11-approvals",
        action="store_true",
        help="answer like a v11 platform: a require_approval pre-check enqueues the approval "
        "itself (approval_request_id) and, once approved, admits one retry of the same request",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="debug also logs prompts and responses (default %(default)s)",
    )
    parser.set_defaults(handler=_run_dev_agent)


def _run_dev_agent(args: argparse.Namespace) -> int:
    from axonflow_guardrail.dev_agent import AgentConfig, run

    clients: dict[str, str] = {}
    for client_id, secret in args.clients:
        clients[client_id] = secret
    config = AgentConfig(
        host=args.host,
        port=args.port,
        edition=args.edition,
        clients=clients,
        policies_file=args.policies,
        hitl_pending_cap=args.hitl_pending_cap,
        require_user_token=args.require_user_token,
        v11_approvals=args.v11_approvals,
        log_level=args.log_level,
    )
    return run(config)


def _client(value: str) -> tuple[str, str]:
    client_id, sep, secret = value.partition(":")
    if not sep or not client_id or not secret:
        # Never echo the value: it holds a secret.
        raise argparse.ArgumentTypeError("expected ID:SECRET with a non-empty id and secret")
    return client_id, secret


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 0-65535")
    return port


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


if __name__ == "__main__":
    sys.exit(main())
