"""DRF endpoints of the waiting room."""
