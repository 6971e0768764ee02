"""One screen or widget per module."""
