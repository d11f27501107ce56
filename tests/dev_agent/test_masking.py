"""Masking formats and validators, as the platform applies them."""

from __future__ import annotations

import hashlib
import re

import pytest

from axonflow_guardrail.dev_agent._masking import apply_masks, luhn_valid, mask_value
from axonflow_guardrail.dev_agent._policies import PolicySet, parse_policies


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("123-45-6789", "critical", "1*********9"),
        ("4111 1111 1111 1111", "critical", "4*****************1"),
        ("123-45-6789", "partial", "12*******89"),
        ("123-45-6789", "remove", "[REDACTED:ssn]"),
        ("ab", "critical", "**"),
        ("abc", "critical", "a*c"),
        ("abcd", "partial", "****"),
        ("abcde", "partial", "ab*de"),
    ],
)
def test_mask_formats(value: str, fmt: str, expected: str) -> None:
    assert mask_value(value, fmt, pii_type="ssn") == expected  # type: ignore[arg-type]


def test_hash_format_is_a_stable_sha256_prefix() -> None:
    masked = mask_value("123-45-6789", "hash", pii_type="ssn")
    assert re.fullmatch(r"HASH_[0-9a-f]{8}", masked)
    assert masked == "HASH_" + hashlib.sha256(b"123-45-6789").hexdigest()[:8]
    assert masked == mask_value("123-45-6789", "hash", pii_type="other")
    assert masked != mask_value("123-45-6780", "hash", pii_type="ssn")


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),
        ("4111 1111 1111 1111", True),
        ("4111-1111-1111-1112", False),
        ("5500 0055 5555 5559", True),
        ("378282246310005", True),  # Amex, 15 digits
        ("0000000000000", True),  # 13 zeros pass Luhn: length is all a regex can check
        ("411111111111", False),  # 12 digits: too short
        ("41111111111111111111", False),  # 20 digits: too long
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


def test_apply_masks_in_any_order() -> None:
    assert apply_masks("abcdef", [(4, 6, "Y"), (0, 2, "X")]) == "XcdY"
    assert apply_masks("abc", []) == "abc"


def test_redact_earlier_policy_wins_overlaps_and_counts() -> None:
    policies = parse_policies(
        [
            {
                "id": "long",
                "pattern": r"\d{3}-\d{2}-\d{4}",
                "action": "redact",
                "priority": 2,
                "mask": "remove",
                "pii_type": "ssn",
            },
            {"id": "short", "pattern": r"\d{4}", "action": "redact", "priority": 1},
        ],
        source="test",
    )
    text = "a 123-45-6789 b 9876"
    masked, count = PolicySet.redact(text, policies.policies)
    assert masked == "a [REDACTED:ssn] b 9**6"
    assert count == 2


def test_redact_all_occurrences_and_validator() -> None:
    policies = parse_policies(
        [
            {
                "id": "cc",
                "pattern": r"\b(?:\d[ -]?){12,18}\d\b",
                "action": "redact",
                "validator": "luhn",
            }
        ],
        source="test",
    )
    text = "4111111111111111 and 4111111111111112 and 5500005555555559"
    masked, count = PolicySet.redact(text, policies.policies)
    assert masked == "4**************1 and 4111111111111112 and 5**************9"
    assert count == 2
