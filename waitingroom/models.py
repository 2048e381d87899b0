"""Models of the waitingroom app."""
