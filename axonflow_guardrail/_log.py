"""The guardrail's logger: a child of LiteLLM Proxy's, so it follows the proxy's log settings
(level, JSON logs) instead of needing its own. Never pass it secrets; prompts only at debug."""

import logging

log = logging.getLogger("LiteLLM Proxy").getChild("axonflow")
