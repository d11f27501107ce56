"""The benchmark harness (`make bench`): governance overhead on the real LiteLLM proxy.

Entry point `python -m bench.run` (see `bench/README.md`). Not part of the installed
package and never imported by it; `tests/` may run it as a subprocess (the smoke test), but
does not import from it.
"""
