"""Fixtures come from modelyard.testing.plugin (registered as a pytest11 entry point)."""
