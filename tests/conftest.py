"""Test-wide settings.

Hypothesis: no per-example deadline anywhere (the 2-core CI machine is shared
and sympy/numerics have cold starts). Under CI (``CI`` set) examples are
derandomized, so a landing gate is reproducible; on a developer's machine
every run draws fresh examples and keeps hunting for counterexamples.
"""
import os

import matplotlib

from hypothesis import settings

matplotlib.use("Agg")

settings.register_profile("dev", deadline=None, print_blob=True)
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
