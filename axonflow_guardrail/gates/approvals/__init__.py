"""Where approvals wait: a held request, a resumable approval id, spent once.

`_gate` holds (through `_hold`), redeems and spends; `_rows` reads an approval row's state;
`_binding` ties an approval to its prompt and caller; `_ledger` remembers spent ids in the
process; `_errors` builds what the client receives; `_client_disconnect` tells whether the held
request's client still waits. The design (resumable ids, binding, one-time use, failures,
clients that go away) is described in `_gate`'s docstring.
"""

from axonflow_guardrail.gates.approvals._binding import approval_id_from
from axonflow_guardrail.gates.approvals._gate import ApprovalGate, GrantedApproval

__all__ = ["ApprovalGate", "GrantedApproval", "approval_id_from"]
