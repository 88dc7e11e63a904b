"""The reference offline client: a local SQLite store, an op queue and the push-then-pull loop.

It speaks the protocol in docs/sync-protocol.md over plain HTTP and is what the tests and the
benchmark drive. It imports only `sync.hlc` (one clock implementation) and the standard library.
"""
