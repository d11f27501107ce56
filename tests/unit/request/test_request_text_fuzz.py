"""Fuzzing the extractor: any body is read or refused, and no text is skipped.

Bodies are random JSON whose keys and `type` values are drawn mostly from the vocabulary the
walkers know (so the structured readers really run, with every shape in every place) and partly
at random. Two properties, for every route family:

1. Totality: extraction returns, or refuses the request as not checkable (`RequestNotCheckable`,
   a 400 for the client). Any other exception would be the guardrail's own bug.
2. Nothing is skipped: a marker planted anywhere in the body (as a value in any object, an item
   of any list, or an object key) ends up in the pre-check query, unless the request is refused,
   or the marker sits under a key on the explicit never-read list (ids, enum discriminators,
   LiteLLM's own metadata, credentials), or in a block that is an encrypted blob or a reference
   by design.

`make test` runs the `ci` hypothesis profile (fixed seed, hundreds of bodies per route family);
`make fuzz` runs `long` (fresh random bodies, tens of thousands per family).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axonflow_guardrail.request._text import RequestNotCheckable, extract_request_text
from tests.support.request_fuzz import (
    BODIES,
    CALL_TYPES,
    LEAVES,
    MARKER,
    MARKER_KEY,
    containers,
    exempt,
)


def _extract(body: dict[str, Any], call_type: str) -> str | None:
    try:
        return extract_request_text(body, call_type, max_chars=0).joined()
    except RequestNotCheckable:
        return None


#: Per route family: `make test`'s `ci` profile gives 300 x 1.5 = 450 bodies to each family
#: (about 4,500 in all, under a minute); `make fuzz`'s `long` profile, 30,000 to each.
EXAMPLES_PER_FAMILY = int(settings().max_examples * 1.5)


@pytest.mark.parametrize("call_type", CALL_TYPES)
def test_a_marker_planted_anywhere_is_checked_or_the_request_refused(call_type: str) -> None:
    """Totality and no skipped text: extraction returns or raises `RequestNotCheckable` only
    (anything else fails the test), and finds the marker wherever it is not exempt."""

    @settings(max_examples=EXAMPLES_PER_FAMILY)
    @given(body=BODIES, data=st.data())
    def one(body: dict[str, Any], data: st.DataObject) -> None:
        places = list(containers(body))
        path, container = data.draw(st.sampled_from(places), label="container")
        as_key = isinstance(container, dict) and data.draw(st.booleans(), label="as_key")
        if as_key:
            container[MARKER] = data.draw(LEAVES, label="value")
            if path == ():
                return  # a top-level parameter's name is not text the model reads
            marker_path = (*path, MARKER)
        elif isinstance(container, dict):
            container[MARKER_KEY] = MARKER
            marker_path = (*path, MARKER_KEY)
        else:
            container.append(MARKER)
            marker_path = (*path, len(container) - 1)
        query = _extract(body, call_type)
        if query is None or exempt(body, marker_path, call_type):
            return
        assert MARKER in query, (marker_path, body)

    one()
