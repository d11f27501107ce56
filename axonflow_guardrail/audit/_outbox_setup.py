"""Which audit sink a guardrail gets, built from its settings; shared by the CLI.

`audit_outbox: memory` keeps the bounded in-memory queue of earlier releases (`_sink`);
`sqlite` and `redis` give a durable outbox (`_durable_sink`) with, unless `audit_shipper:
external`, a shipper in this worker. The Redis connection is the one named in
`audit_outbox_redis_url`, else the proxy's own: LiteLLM's Redis cache (`cache_params`), its
router's `redis_host`/`redis_port`/`redis_password`, or `REDIS_URL` / `REDIS_HOST` +
`REDIS_PORT` in the environment. A problem here stops the proxy at startup.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import redis.asyncio as aioredis

from axonflow_guardrail._running_proxy import running_proxy_config
from axonflow_guardrail._settings import ConfigurationError, GuardrailSettings
from axonflow_guardrail.audit._durable_sink import DurableAuditSink
from axonflow_guardrail.audit._outbox import Outbox
from axonflow_guardrail.audit._outbox_entry import EntryCodec
from axonflow_guardrail.audit._redis_outbox import RedisOutbox
from axonflow_guardrail.audit._retroactive import Retroactive
from axonflow_guardrail.audit._sealing import TokenSeal
from axonflow_guardrail.audit._shipper import Shipper
from axonflow_guardrail.audit._sink import AuditSink
from axonflow_guardrail.audit._sqlite_outbox import SqliteOutbox, new_owner_id
from axonflow_guardrail.axonflow._client import AxonFlowClient
from axonflow_guardrail.observe._events import NO_EVENTS, AuditEvents

__all__ = ["REDIS_PREFIX", "build_audit_sink", "codec_for", "open_outbox", "shipper_for"]

REDIS_PREFIX = "axonflow:audit-outbox"


def codec_for(settings: GuardrailSettings) -> EntryCodec:
    seal = TokenSeal(client_id=settings.client_id, client_secret=settings.client_secret)
    return EntryCodec(seal=seal, keep_prompts=settings.audit_outbox_keep_prompts)


def open_outbox(
    settings: GuardrailSettings, *, channel: str, ships: bool, location: str | None = None
) -> Outbox:
    """The configured durable outbox; `ships`: this process claims records (a shipper).

    `location` overrides the configured path or Redis URL (the CLI's `--outbox`).
    """
    codec = codec_for(settings)

    def decode(payload: bytes) -> Any:
        return codec.decode(payload, default_user_token=settings.default_user_token)

    kind = settings.audit_outbox
    if location is not None and location.startswith(("redis://", "rediss://", "unix://")):
        kind = "redis"
    elif location is not None:
        kind = "sqlite"
    if kind == "redis":
        url = location or settings.audit_outbox_redis_url
        client, shown = _redis_client(url)
        return RedisOutbox(
            client=client,
            location=shown,
            prefix=REDIS_PREFIX,
            channel=channel,
            decode=decode,
            max_records=settings.audit_outbox_max_records,
            max_bytes=settings.audit_outbox_max_bytes,
            lease_seconds=settings.audit_outbox_lease_seconds,
            consumer=None,
        )
    path = location or settings.audit_outbox_path
    try:
        return SqliteOutbox(
            path=path,
            channel=channel,
            decode=decode,
            max_records=settings.audit_outbox_max_records,
            max_bytes=settings.audit_outbox_max_bytes,
            sync_seconds=settings.audit_outbox_sync_seconds,
            lease_seconds=settings.audit_outbox_lease_seconds,
            owner=new_owner_id() if ships else None,
        )
    except (OSError, sqlite3.Error) as exc:
        raise ConfigurationError(
            f"axonflow guardrail: cannot open the audit outbox 'audit_outbox_path' {path!r}: {exc}"
        ) from None


def shipper_for(
    settings: GuardrailSettings,
    *,
    outbox: Outbox,
    client: AxonFlowClient,
    events: AuditEvents = NO_EVENTS,
) -> Shipper:
    return Shipper(
        outbox=outbox,
        client=client,
        retroactive=Retroactive(client=client, settings=settings, outbox=outbox),
        concurrency=settings.audit_concurrency,
        send_timeout_seconds=settings.audit_timeout_seconds,
        retry_max_seconds=settings.audit_retry_max_seconds,
        breaker_failure_threshold=settings.breaker_failure_threshold,
        breaker_recovery_seconds=settings.breaker_recovery_seconds,
        sweep_seconds=min(1.0, settings.audit_outbox_lease_seconds / 4),
        events=events,
    )


def build_audit_sink(
    settings: GuardrailSettings,
    *,
    client: AxonFlowClient,
    channel: str,
    events: AuditEvents = NO_EVENTS,
) -> AuditSink | DurableAuditSink:
    if settings.audit_outbox == "memory":
        return AuditSink(
            client=client,
            queue_size=settings.audit_queue_size,
            concurrency=settings.audit_concurrency,
            send_timeout_seconds=max(settings.call_timeout_seconds, 10.0),
            events=events,
        )
    in_process = settings.audit_shipper == "in_process"
    outbox = open_outbox(settings, channel=channel, ships=in_process)
    shipper = (
        shipper_for(settings, outbox=outbox, client=client, events=events) if in_process else None
    )
    return DurableAuditSink(
        outbox=outbox,
        codec=codec_for(settings),
        shipper=shipper,
        on_close=client.close,
        events=events,
    )


def _redis_client(url: str | None) -> tuple[aioredis.Redis, str]:
    """A client for `url`, else for the proxy's own Redis; and where it points (no secret)."""
    if url:
        client = aioredis.Redis.from_url(url)
        return client, _shown(client)
    kwargs = _proxy_redis_kwargs()
    if kwargs is None:
        raise ConfigurationError(
            "axonflow guardrail: 'audit_outbox: redis' needs a Redis: set "
            "'audit_outbox_redis_url', or give the proxy one (litellm_settings.cache_params, "
            "router_settings.redis_host/redis_port, or REDIS_URL / REDIS_HOST + REDIS_PORT)"
        )
    if "url" in kwargs:
        client = aioredis.Redis.from_url(str(kwargs["url"]))
    else:
        known = {"host", "port", "password", "username", "db", "ssl"}
        client = aioredis.Redis(**{k: v for k, v in kwargs.items() if k in known})
    return client, _shown(client)


def _shown(client: aioredis.Redis) -> str:
    conn = client.connection_pool.connection_kwargs
    if "path" in conn:
        return f"unix://{conn['path']}"
    return f"redis://{conn.get('host', 'localhost')}:{conn.get('port', 6379)}/{conn.get('db', 0)}"


def _proxy_redis_kwargs() -> dict[str, Any] | None:
    """The Redis LiteLLM itself uses: its cache, its router's settings, the environment."""
    import litellm

    cache = getattr(getattr(litellm, "cache", None), "cache", None)
    redis_kwargs = getattr(cache, "redis_kwargs", None)
    if isinstance(redis_kwargs, Mapping) and (redis_kwargs.get("host") or redis_kwargs.get("url")):
        return dict(redis_kwargs)
    router = running_proxy_config().get("router_settings")
    if isinstance(router, Mapping) and router.get("redis_host"):
        return {
            "host": _secret(router["redis_host"]),
            "port": int(_secret(router.get("redis_port") or 6379)),
            "password": _secret(router.get("redis_password")),
        }
    if os.environ.get("REDIS_URL"):
        return {"url": os.environ["REDIS_URL"]}
    if os.environ.get("REDIS_HOST") and os.environ.get("REDIS_PORT"):
        password = os.environ.get("REDIS_PASSWORD")
        auth = f":{quote(password)}@" if password else ""
        host, port = os.environ["REDIS_HOST"], os.environ["REDIS_PORT"]
        return {"url": f"redis://{auth}{host}:{port}"}
    return None


def _secret(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("os.environ/"):
        return os.environ.get(value.removeprefix("os.environ/"))
    return value
