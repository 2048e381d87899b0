"""Coupons: campaigns of N slots, the atomic claim, grants, wallets and seats."""
