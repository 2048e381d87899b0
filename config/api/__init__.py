"""API plumbing shared by every app: error shape, URL root."""
