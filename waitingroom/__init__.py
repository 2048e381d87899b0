"""Waiting room: a virtual queue in front of hot campaigns, with bounded admission."""
