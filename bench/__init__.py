"""Rounds' benchmarks: `python -m bench` (see bench/run.py and the README's performance section)."""
