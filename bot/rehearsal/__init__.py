"""Rehearsal tooling: a local stand-in for Telegram for tests, benchmarks and ``posko demo``."""
