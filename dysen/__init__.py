"""dysen."""
