"""Accounts: the user model, sign-up, and bearer tokens for scripts."""
