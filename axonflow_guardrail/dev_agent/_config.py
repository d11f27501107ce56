"""The dev agent's settings, as the CLI parses them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Edition = Literal["enterprise", "community"]
EDITIONS: tuple[Edition, ...] = ("enterprise", "community")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_HITL_PENDING_CAP = 1000
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    """Everything `build_app` and `run` need. `clients` maps client id to secret."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    edition: Edition = "enterprise"
    clients: Mapping[str, str] = field(default_factory=dict)
    #: None means the packaged `default_policies.yaml`.
    policies_file: Path | None = None
    hitl_pending_cap: int = DEFAULT_HITL_PENDING_CAP
    #: Refuse (401) pre-checks whose user token is empty or `anonymous`, like a platform that
    #: enforces user tokens does.
    require_user_token: bool = False
    #: Answer like a v11 platform: a require_approval pre-check enqueues the approval row
    #: itself and returns `approval_request_id`; once approved, one retry of the same request
    #: from the same client is admitted.
    v11_approvals: bool = False
    log_level: str = "info"
