"""Loadable template data (``test_cycle.json``: the seed's 49-activity test cycle)."""

from pathlib import Path

TEST_CYCLE = Path(__file__).with_name("test_cycle.json")
