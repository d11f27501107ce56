"""LiteLLM's database for tests: a throwaway Postgres cluster with LiteLLM's schema.

LiteLLM Proxy keeps virtual keys, teams, stored models, spend logs and the admin UI login in
Postgres, through prisma-client-py, which runs Prisma's native query engine. Two ways to get
that engine, chosen by what the machine has (`make admin-deps` prepares the same one):

- **the litellm-db tool** (`../shared/tools/litellm-db` beside the repository, or the directory
  named by `LITELLM_DB_TOOL`): on machines that cannot download Prisma's engine binaries (ours
  and CI's) it stands in for them. `make admin-deps` runs its `setup` into `.cache/litellm-db`;
  here its `pg start` / `pg migrate` / `pg stop` run the cluster and apply LiteLLM's migrations,
  and the proxy runs with `disable_prisma_schema_update: true`.
- **plain Prisma**, where the tool is absent: `make admin-deps` ran `prisma generate`, which
  downloads the native engines; here a cluster is started with Postgres's own `initdb` and
  `pg_ctl`, and the proxy applies its migrations itself at startup (`prisma migrate deploy`).

Either way the cluster listens on 127.0.0.1 on a free port, trusts local connections, runs with
fsync off, and is stopped and deleted afterwards. (pytest-postgresql would start it, but it
runs `initdb` as the current user, and Postgres refuses to run as root, which CI is.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import BIN_DIR, REPO_ROOT, free_port

__all__ = [
    "ENGINE_STATE",
    "LiteLLMDatabase",
    "engine_tool",
    "start_litellm_database",
]

#: Where `make admin-deps` ran the tool's `setup` (its `env.sh` is read from here).
ENGINE_STATE = REPO_ROOT / ".cache" / "litellm-db"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
_ENGINE_VARIABLES = (
    "PRISMA_QUERY_ENGINE_BINARY",
    "PRISMA_SCHEMA_ENGINE_BINARY",
    "PRISMA_HOME_DIR",
    "CHECKPOINT_DISABLE",
    "PATH",
)


def engine_tool() -> Path | None:
    """The litellm-db tool's directory, or None where the machine does not have it."""
    named = os.environ.get("LITELLM_DB_TOOL")
    tool = Path(named) if named else REPO_ROOT.parent / "shared" / "tools" / "litellm-db"
    return tool if (tool / "setup").is_file() and (tool / "pg").is_file() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class LiteLLMDatabase:
    """A running cluster with LiteLLM's schema, and how a proxy reaches it."""

    url: str
    #: Environment for the `litellm` process (the engine stand-in's variables, or none).
    proxy_env: Mapping[str, str]
    #: Added to the proxy's `general_settings`.
    general_settings: Mapping[str, Any]
    engine: str

    def psql(self, sql: str) -> str:
        """Run one statement with psql; its unaligned, tuples-only output."""
        result = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", self.url],
            input=sql,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return result.stdout.strip()


@contextmanager
def start_litellm_database() -> Iterator[LiteLLMDatabase]:
    """Start a cluster on a free loopback port with LiteLLM's schema; always stopped and deleted.

    Raises when the engine was not prepared (`make admin-deps`): the tier never skips.
    """
    # Short and world-traversable: as root the cluster runs as `postgres`, and its unix
    # socket path must stay under ~100 characters.
    directory = Path(tempfile.mkdtemp(prefix="litellm-pg-"))
    try:
        tool = engine_tool()
        if tool is not None:
            with _tool_cluster(tool, directory) as database:
                yield database
        else:
            with _plain_cluster(directory) as database:
                yield database
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _tool_cluster(tool: Path, directory: Path) -> Iterator[LiteLLMDatabase]:
    env_file = ENGINE_STATE / "env.sh"
    if not env_file.is_file():
        raise RuntimeError(
            f"{env_file} is missing: run `make admin-deps` (it runs {tool}/setup) first"
        )
    port = free_port()
    pg = str(tool / "pg")
    url = _run([pg, "start", str(directory), str(port)]).strip().splitlines()[-1]
    try:
        _run([pg, "migrate", url, str(BIN_DIR / "python")])
        yield LiteLLMDatabase(
            url=url,
            # LiteLLM's boot-time `prisma migrate diff` cannot run without the schema engine
            # (it fails and is ignored, after ~10-20 s of Prisma CLI): give it half a second.
            proxy_env={**_sourced(env_file), "LITELLM_PRISMA_COMMAND_TIMEOUT": "0.5"},
            general_settings={"database_url": url, "disable_prisma_schema_update": True},
            engine=f"litellm-db tool ({tool})",
        )
    finally:
        _run([pg, "stop", str(directory)])


@contextmanager
def _plain_cluster(directory: Path) -> Iterator[LiteLLMDatabase]:
    """A cluster from Postgres's own tools; the proxy migrates it with the native engines."""
    if not (PG_BIN / "pg_ctl").is_file():
        raise RuntimeError(f"no Postgres server in {PG_BIN}: run `make admin-deps`")
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # Postgres refuses to run as root
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(directory, user="postgres")
    data = directory / "pgdata"
    port = free_port()
    _run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
          "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])  # fmt: skip
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {directory} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data)]
    _run([*pg_ctl, "-l", str(directory / "postgres.log"), "-w", "-o", options, "start"])
    try:
        admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _run([str(PG_BIN / "psql"), "-X", "-q", "-d", admin_url, "-c", "CREATE DATABASE litellm"])
        url = f"postgresql://postgres@127.0.0.1:{port}/litellm"
        yield LiteLLMDatabase(
            url=url,
            proxy_env={"DATABASE_URL": url},
            general_settings={"database_url": url},
            engine="Prisma's native engines",
        )
    finally:
        _run([*pg_ctl, "-m", "fast", "-w", "stop"])


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def _sourced(env_file: Path) -> dict[str, str]:
    """The engine variables `env.sh` exports (read by sourcing it, as its README says)."""
    dumped = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; env -0', "bash", str(env_file)],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    pairs = (entry.split("=", 1) for entry in dumped.split("\0") if "=" in entry)
    return {name: value for name, value in pairs if name in _ENGINE_VARIABLES}
