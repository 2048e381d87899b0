"""Fixtures of the ranking suites."""

import pytest

from ranking import services


@pytest.fixture(autouse=True)
def fresh_board_cache():
    """Boards are cached per process by metric; every test starts and ends without that cache."""
    services.boards_forget()
    yield
    services.boards_forget()
