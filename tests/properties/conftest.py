"""Property tests run derandomized by default, so a CI failure reproduces on any machine;
`HYPOTHESIS_PROFILE=explore` searches afresh (and keeps what it finds in .hypothesis/)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
