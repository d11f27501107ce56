"""PII masking as the AxonFlow platform does it, and the validators patterns may need.

The formats mirror the platform's: `critical` keeps the first and last character
(`123-45-6789` -> `1*********9`), `partial` keeps two at each end, `remove` replaces the value
with `[REDACTED:<type>]`, and `hash` with `HASH_<8 hex>` (a SHA-256 prefix, so equal values
mask equally and can still be correlated in logs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal, get_args

MaskFormat = Literal["critical", "partial", "remove", "hash"]
MASK_FORMATS: frozenset[str] = frozenset(get_args(MaskFormat))


def mask_value(value: str, fmt: MaskFormat, *, pii_type: str) -> str:
    """Mask one detected value; `pii_type` names it in the `remove` format."""
    if fmt == "critical":
        return _keep_ends(value, 1)
    if fmt == "partial":
        return _keep_ends(value, 2)
    if fmt == "remove":
        return f"[REDACTED:{pii_type}]"
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
    return f"HASH_{digest[:8]}"


def _keep_ends(value: str, keep: int) -> str:
    # A value too short to keep both ends would leak entirely: star all of it.
    if len(value) <= 2 * keep:
        return "*" * len(value)
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def apply_masks(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """Replace each `(start, end, replacement)` span; spans must not overlap."""
    ordered = sorted(spans)
    if not ordered:
        return text
    parts: list[str] = []
    cursor = 0
    for start, end, replacement in ordered:
        parts.append(text[cursor:start])
        parts.append(replacement)
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def luhn_valid(candidate: str) -> bool:
    """True when the digits in `candidate` (separators ignored) are 13-19 long and pass Luhn."""
    digits = [ord(ch) - 48 for ch in candidate if "0" <= ch <= "9"]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


#: Validators a policy may name: each takes the matched text and says whether it really counts.
VALIDATORS = {"luhn": luhn_valid}
