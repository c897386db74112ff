"""rgtrm."""
