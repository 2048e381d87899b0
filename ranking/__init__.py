"""Ranking: live leaderboards on sorted sets, with periods and snapshots."""
