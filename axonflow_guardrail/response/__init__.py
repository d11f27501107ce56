"""What the answer says: its text and token usage on every route, streamed or not (`_text`,
`_usage`), and the masked text put back into a response (`_rewrite`) or a held stream's chunks
(`_stream_masking`).

Pure: imports only the package's shared modules, never another room.
"""
