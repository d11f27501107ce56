"""Helpers that start the real processes the tests talk to (dev agent, litellm proxy)."""
