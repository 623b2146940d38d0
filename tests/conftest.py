import pytest
import trio.testing
from hypothesis import settings

# Hypothesis' per-example deadline is a timing assert in disguise: on a loaded
# 2-core CI machine it fails tests that are correct. Behaviour is what we test.
settings.register_profile("byosms", deadline=None, print_blob=True)
settings.load_profile("byosms")


@pytest.fixture
def autojump_clock():
    return trio.testing.MockClock(autojump_threshold=0)
