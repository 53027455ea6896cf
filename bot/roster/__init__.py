"""Piket (SPEC §9): rostered duty per post, its slots, attendance and swaps."""
