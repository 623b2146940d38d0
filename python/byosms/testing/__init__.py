"""Test doubles for users and our own tests: an SMSC simulator (and, later,
fake HTTP SMS providers)."""

from byosms.testing.smsc import Faults, MoResult, SmscSimulator, Stats

__all__ = ["Faults", "MoResult", "SmscSimulator", "Stats"]
