"""What the request says and who sends it.

The text a provider will receive, read from the whole request body (`_text`) per route family
(`_routes`, `_gemini`), message and content part (`_parts`, `_media`) and every other shape
(`_walker`, `_encoded` for files and data URLs), with the path of each piece (`_extracted`);
masked text written back where it was read (`_rewrite`); who is calling and how strictly to
govern them (`_identity`), their tokens kept out of LiteLLM's logs (`_token_logs`); the W3C
trace context its AxonFlow calls carry (`_trace`); and the request as every later stage sees
it (`_governed`).

Pure, apart from logging: imports only the package's shared modules (`_settings`, `_errors`,
`_log`), never another room.
"""
