"""Static regex policies: the file format, its validation, and their evaluation.

The platform evaluates its static policies in priority order with the precedence
require_approval > block > redact > allow, and the first `block` ends evaluation; `warn` and
`log` matches are recorded but allow. The dev agent does the same with a small YAML file (see
`docs/dev-agent.md`), validated at load time so a typo fails loudly instead of silently
allowing everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml

from ._masking import MASK_FORMATS, VALIDATORS, MaskFormat, apply_masks, mask_value

Action = Literal["block", "require_approval", "redact", "warn", "log"]
Severity = Literal["low", "medium", "high", "critical"]
AppliesTo = Literal["input", "output", "both"]
Phase = Literal["input", "output"]

ACTIONS: tuple[str, ...] = get_args(Action)
SEVERITIES: tuple[str, ...] = get_args(Severity)
APPLIES_TO: tuple[str, ...] = get_args(AppliesTo)

#: Actions a pre-check weighs; check-input/check-output only weigh blocks and redactions.
ALL_ACTIONS: frozenset[str] = frozenset(ACTIONS)
BLOCK_AND_REDACT: frozenset[str] = frozenset({"block", "redact"})

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_FIELDS = frozenset(
    {
        "id",
        "name",
        "description",
        "pattern",
        "action",
        "priority",
        "severity",
        "applies_to",
        "category",
        "mask",
        "pii_type",
        "validator",
        "allow_override",
        "enabled",
    }
)


class PolicyFileError(ValueError):
    """A policy file or payload that does not follow the format; the message says where."""


@dataclass(frozen=True, slots=True)
class Policy:
    """One static policy. `description` is what a block reports as its `block_reason`."""

    id: str
    name: str
    description: str
    pattern: re.Pattern[str]
    action: Action
    priority: int = 0
    severity: Severity = "medium"
    applies_to: AppliesTo = "both"
    category: str = "custom"
    mask: MaskFormat = "critical"
    pii_type: str = ""
    validator: str | None = None
    allow_override: bool = False
    enabled: bool = True
    _check: Callable[[str], bool] | None = field(default=None, repr=False, compare=False)

    def applies(self, phase: Phase) -> bool:
        return self.enabled and (self.applies_to == "both" or self.applies_to == phase)

    def matches(self, text: str) -> bool:
        if self._check is None:
            return self.pattern.search(text) is not None
        return any(self._check(m.group(0)) for m in self.pattern.finditer(text))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Non-empty spans of `text` this policy matches (after its validator)."""
        check = self._check
        return [
            m.span()
            for m in self.pattern.finditer(text)
            if m.end() > m.start() and (check is None or check(m.group(0)))
        ]

    def to_json(self) -> dict[str, Any]:
        """The policy in the file format (what `GET /__dev/policies` shows)."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "pattern": self.pattern.pattern,
            "action": self.action,
            "priority": self.priority,
            "severity": self.severity,
            "applies_to": self.applies_to,
            "category": self.category,
            "allow_override": self.allow_override,
            "enabled": self.enabled,
        }
        if self.action == "redact":
            data["mask"] = self.mask
            data["pii_type"] = self.pii_type
        if self.validator is not None:
            data["validator"] = self.validator
        return data


@dataclass(slots=True)
class Evaluation:
    """What one evaluation matched, in evaluation order, split by action."""

    evaluated: int = 0
    matched: list[Policy] = field(default_factory=list)
    blocked_by: Policy | None = None
    approvals: list[Policy] = field(default_factory=list)
    redactions: list[Policy] = field(default_factory=list)
    notices: list[Policy] = field(default_factory=list)


class PolicySet:
    """An immutable, priority-ordered set of policies, pre-split by phase for speed."""

    __slots__ = ("_by_phase", "policies", "source")

    def __init__(self, policies: Sequence[Policy], *, source: str) -> None:
        # Highest priority first; equal priorities keep their order in the file.
        indexed = sorted(enumerate(policies), key=lambda pair: (-pair[1].priority, pair[0]))
        self.policies: tuple[Policy, ...] = tuple(policy for _, policy in indexed)
        self.source = source
        self._by_phase: dict[str, tuple[Policy, ...]] = {
            phase: tuple(p for p in self.policies if p.applies(cast(Phase, phase)))
            for phase in get_args(Phase)
        }

    def __len__(self) -> int:
        return len(self.policies)

    def evaluate(
        self, texts: Sequence[str], *, phase: Phase, actions: frozenset[str]
    ) -> Evaluation:
        """Evaluate every policy of `phase` whose action is in `actions` against `texts`.

        A policy matches when it matches any of the texts (a response's rows are many texts).
        The first matching `block` ends evaluation, so later policies are never looked at.
        """
        result = Evaluation()
        for policy in self._by_phase[phase]:
            if policy.action not in actions:
                continue
            result.evaluated += 1
            if not any(policy.matches(text) for text in texts):
                continue
            result.matched.append(policy)
            action = policy.action
            if action == "block":
                result.blocked_by = policy
                break
            if action == "require_approval":
                result.approvals.append(policy)
            elif action == "redact":
                result.redactions.append(policy)
            else:
                result.notices.append(policy)
        return result

    @staticmethod
    def redact(text: str, policies: Sequence[Policy]) -> tuple[str, int]:
        """Mask what `policies` match in `text`; earlier policies win overlapping spans."""
        claimed: list[tuple[int, int, str]] = []
        for policy in policies:
            for start, end in policy.spans(text):
                if any(start < c_end and c_start < end for c_start, c_end, _ in claimed):
                    continue
                masked = mask_value(text[start:end], policy.mask, pii_type=policy.pii_type)
                claimed.append((start, end, masked))
        return apply_masks(text, claimed), len(claimed)

    def to_json(self) -> list[dict[str, Any]]:
        return [policy.to_json() for policy in self.policies]


# --------------------------------------------------------------------------- loading


def default_policies_text() -> str:
    """The policy file shipped in the package (`default_policies.yaml`)."""
    return (
        resources.files("axonflow_guardrail.dev_agent")
        .joinpath("default_policies.yaml")
        .read_text(encoding="utf-8")
    )


def load_policies(path: Path | None = None) -> PolicySet:
    """Load and validate a policy file, or the packaged default when `path` is None."""
    if path is None:
        source = "default_policies.yaml (packaged)"
        text = default_policies_text()
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyFileError(f"{source}: cannot read the policy file: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyFileError(f"{source}: not valid YAML: {exc}") from exc
    return parse_policies(data, source=source)


def parse_policies(data: object, *, source: str) -> PolicySet:
    """Validate a parsed document: `{"version": 1, "policies": [...]}` or a bare list."""
    if isinstance(data, Mapping):
        unknown = sorted(str(k) for k in data if k not in ("version", "policies"))
        if unknown:
            raise PolicyFileError(
                f"{source}: unknown top-level key(s) {', '.join(unknown)}; "
                "expected 'version' and 'policies'"
            )
        version = data.get("version", 1)
        if version != 1 or isinstance(version, bool):
            raise PolicyFileError(f"{source}: 'version' must be 1 (got {version!r})")
        items = data.get("policies")
    elif isinstance(data, list):
        items = data
    else:
        raise PolicyFileError(
            f"{source}: expected a mapping with a 'policies' list (or a bare list of policies), "
            f"got {type(data).__name__}"
        )
    if not isinstance(items, list):
        raise PolicyFileError(f"{source}: 'policies' must be a list")
    policies: list[Policy] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        policy = _parse_policy(item, where=f"{source}: policies[{index}]")
        if policy.id in seen:
            raise PolicyFileError(f"{source}: policies[{index}]: duplicate id {policy.id!r}")
        seen.add(policy.id)
        policies.append(policy)
    return PolicySet(policies, source=source)


def _parse_policy(item: object, *, where: str) -> Policy:
    if not isinstance(item, Mapping):
        raise PolicyFileError(f"{where}: each policy must be a mapping")
    policy_id = item.get("id")
    if not isinstance(policy_id, str) or not _ID_RE.match(policy_id):
        raise PolicyFileError(
            f"{where}: 'id' is required: letters, digits, '_', '.', ':' or '-' (got {policy_id!r})"
        )
    where = f"{where} (id {policy_id!r})"
    unknown = sorted(str(k) for k in item if k not in _FIELDS)
    if unknown:
        raise PolicyFileError(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}"
        )

    action = _choice(item, "action", ACTIONS, where=where, default=None)
    name = _text(item, "name", where=where, default=policy_id)
    description = _text(item, "description", where=where, default=name)
    priority = item.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise PolicyFileError(f"{where}: 'priority' must be an integer (got {priority!r})")
    severity = _choice(item, "severity", SEVERITIES, where=where, default="medium")
    applies_to = _choice(item, "applies_to", APPLIES_TO, where=where, default="both")
    category = _text(item, "category", where=where, default="custom")
    allow_override = _flag(item, "allow_override", where=where, default=False)
    enabled = _flag(item, "enabled", where=where, default=True)

    if action != "redact":
        for key in ("mask", "pii_type"):
            if key in item:
                raise PolicyFileError(f"{where}: {key!r} only applies to action 'redact'")
    mask = _choice(item, "mask", tuple(sorted(MASK_FORMATS)), where=where, default="critical")
    pii_type = _text(item, "pii_type", where=where, default=policy_id)

    validator = item.get("validator")
    if validator is not None and validator not in VALIDATORS:
        raise PolicyFileError(
            f"{where}: 'validator' must be one of {', '.join(sorted(VALIDATORS))} "
            f"(got {validator!r})"
        )

    raw_pattern = item.get("pattern")
    if not isinstance(raw_pattern, str) or not raw_pattern:
        raise PolicyFileError(f"{where}: 'pattern' is required and must be a non-empty string")
    try:
        pattern = re.compile(raw_pattern)
    except re.error as exc:
        raise PolicyFileError(f"{where}: 'pattern' is not a valid regex: {exc}") from exc
    if pattern.fullmatch("") is not None:
        raise PolicyFileError(f"{where}: 'pattern' matches the empty string, so it matches all")

    return Policy(
        id=policy_id,
        name=name,
        description=description,
        pattern=pattern,
        action=cast(Action, action),
        priority=priority,
        severity=cast(Severity, severity),
        applies_to=cast(AppliesTo, applies_to),
        category=category,
        mask=cast(MaskFormat, mask),
        pii_type=pii_type,
        validator=validator,
        allow_override=allow_override,
        enabled=enabled,
        _check=VALIDATORS[validator] if validator is not None else None,
    )


def _text(item: Mapping[Any, Any], key: str, *, where: str, default: str) -> str:
    value = item.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise PolicyFileError(f"{where}: {key!r} must be a non-empty string (got {value!r})")
    return value


def _flag(item: Mapping[Any, Any], key: str, *, where: str, default: bool) -> bool:
    value = item.get(key, default)
    if not isinstance(value, bool):
        raise PolicyFileError(f"{where}: {key!r} must be true or false (got {value!r})")
    return value


def _choice(
    item: Mapping[Any, Any], key: str, choices: Sequence[str], *, where: str, default: str | None
) -> str:
    value = item.get(key, default)
    if value is None:
        raise PolicyFileError(f"{where}: {key!r} is required: one of {', '.join(choices)}")
    if value not in choices:
        raise PolicyFileError(
            f"{where}: {key!r} must be one of {', '.join(choices)} (got {value!r})"
        )
    return str(value)
