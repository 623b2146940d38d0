"""Test doubles for users and our own tests: an SMSC simulator (and, later,
fake HTTP SMS providers)."""

from byosms.testing.runtime import FakeRuntime
from byosms.testing.smsc import Faults, MoResult, SmscSimulator, Stats
from byosms.testing.infobip_fake import InfobipFake
from byosms.testing.linkmobility_fake import LinkMobilityFake
from byosms.testing.telesign_fake import TelesignFake
from byosms.testing.twilio_fake import TwilioFake
from byosms.testing.vibes_fake import VibesFake

__all__ = ["FakeRuntime", "Faults", "InfobipFake", "LinkMobilityFake", "MoResult", "SmscSimulator",
           "Stats", "TelesignFake", "TwilioFake", "VibesFake"]
