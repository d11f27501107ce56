"""What every operator command shares: exit codes, tables on stdout, JSON for machines.

Exit codes, the same for every command (the README lists them):

- 0: done, nothing wrong;
- 1: a problem was found, or AxonFlow refused the operation (doctor: any failed check;
  approvals: unknown id, not pending, credentials refused, no approval queue);
- 2: the command itself could not run as asked (bad arguments, unreadable config file,
  missing connection settings);
- 3: AxonFlow could not be reached or did not answer (approvals; the doctor reports that as a
  failed check, 1).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["OK", "PROBLEM", "UNAVAILABLE", "USAGE", "print_json", "table"]

OK = 0
PROBLEM = 1
USAGE = 2
UNAVAILABLE = 3


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns; the last column is not padded (it may be long)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def print_json(value: Any, *, out: TextIO | None = None) -> None:
    print(json.dumps(value, indent=2, sort_keys=False, default=str), file=out or sys.stdout)
