"""The portal's settings, with one trivial logged-in page for the benchmark to compare with."""

from assessment_portal.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
