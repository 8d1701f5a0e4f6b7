"""Profiles are fed through the identity and profile stages, as the pipeline runs them."""

from tests.identity.conftest import feed, feed_pipeline, feed_profiles, message

__all__ = ["feed", "feed_pipeline", "feed_profiles", "message"]
