"""DRF endpoints of the rankings."""
