"""Models of the ranking app."""
