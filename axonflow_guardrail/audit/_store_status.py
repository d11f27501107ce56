"""Where audit records wait before AxonFlow has them, as `axonflow-guardrail doctor` checks it.

The in-memory queue has nothing to check; a durable outbox is opened read-only in spirit
(this process claims nothing, and a SQLite file that does not exist yet is not created) and
reports whether it can be written, how deep it is, how old its oldest record is and how many
records were dead-lettered.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from axonflow_guardrail._settings import ConfigurationError, GuardrailSettings

__all__ = ["StoreStatus", "audit_store_status"]

#: AxonFlow accepts an audit against a pre-check context for about 5 minutes; a record older
#: than that needs a retroactive pre-check, so the backlog is worth a warning.
_OLD_RECORD_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class StoreStatus:
    status: Literal["ok", "warn", "fail"]
    detail: str


async def audit_store_status(settings: GuardrailSettings, *, channel: str) -> StoreStatus:
    if settings.audit_outbox == "memory":
        return StoreStatus(
            "ok",
            f"in-memory queue (audit_queue_size={settings.audit_queue_size}): nothing on disk "
            "to check; queued records are lost if the proxy is killed",
        )
    if settings.audit_outbox == "sqlite":
        found = _sqlite_file_status(settings.audit_outbox_path)
        if found is not None:
            return found
    from axonflow_guardrail.audit._outbox_setup import open_outbox

    try:
        outbox = open_outbox(settings, channel=channel, ships=False)
    except ConfigurationError as exc:
        return StoreStatus("fail", str(exc))
    try:
        status = await outbox.status()
    except Exception as exc:  # any backend error is the finding itself
        return StoreStatus("fail", f"{outbox.location}: cannot be read ({type(exc).__name__})")
    finally:
        await outbox.close()
    age = status.oldest_age_seconds
    detail = (
        f"{status.backend} {status.location}: {status.pending} pending"
        + (f", oldest {age:.0f} s" if age is not None else "")
        + f", {status.dead_letters} dead letter(s)"
    )
    if status.dead_letters:
        return StoreStatus("warn", detail + " (see `axonflow-guardrail outbox dead-letters`)")
    if age is not None and age > _OLD_RECORD_SECONDS:
        return StoreStatus("warn", detail + " (delivery is behind)")
    return StoreStatus("ok", detail)


def _sqlite_file_status(path: str) -> StoreStatus | None:
    """A finding about the file itself, or None: it exists and can be opened."""
    if os.path.exists(path):
        if not os.access(path, os.R_OK | os.W_OK):
            return StoreStatus("fail", f"sqlite {path}: not readable and writable by this user")
        return None
    directory = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(directory):
        directory = os.path.dirname(directory)
    if not os.access(directory, os.W_OK | os.X_OK):
        return StoreStatus(
            "fail", f"sqlite {path}: cannot be created ({directory} is not writable)"
        )
    return StoreStatus(
        "ok", f"sqlite {path}: not created yet (the proxy creates it, mode 0600); can be created"
    )
