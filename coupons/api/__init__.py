"""DRF endpoints of the coupons app."""
