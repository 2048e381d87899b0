"""The wait in words, English and Korean: units that fit, rounding a person expects, a range when uncertain."""

import pytest
from django.utils import translation

from waitingroom.eta import LONG_WAIT_SECONDS, Pace, eta_uncertain
from waitingroom.wait_words import wait_words

CASES = [
    # seconds, uncertain, English, Korean
    (None, False, None, None),
    (0, False, "any moment now", "곧"),
    (5, True, "any moment now", "곧"),
    (6, False, "less than a minute", "1분 미만"),
    (44, True, "less than a minute", "1분 미만"),
    (59, False, "less than a minute", "1분 미만"),
    (50, True, "up to 1 minute", "최대 1분"),
    (60, False, "about 1 minute", "약 1분"),
    (89, False, "about 1 minute", "약 1분"),
    (91, False, "about 2 minutes", "약 2분"),
    (270, False, "about 4 minutes", "약 4분"),
    (270, True, "3 to 6 minutes", "3~6분"),
    (600, False, "about 10 minutes", "약 10분"),
    (600, True, "8 to 12 minutes", "8~12분"),
    (1800, True, "22 to 38 minutes", "22~38분"),
    (3500, False, "about 58 minutes", "약 58분"),
    (3600, False, "about 1 hour", "약 1시간"),
    (3600, True, "45 minutes to 1 hour", "45분~1시간"),
    (5400, False, "about 1½ hours", "약 1시간 반"),
    (7200, False, "about 2 hours", "약 2시간"),
    (9000, True, "2 hours to 3 hours", "2시간~3시간"),
    (40_000, False, "about 11 hours", "약 11시간"),
]


@pytest.mark.parametrize(("seconds", "uncertain", "english", "korean"), CASES)
def test_a_wait_reads_in_words_in_english_and_korean(seconds, uncertain, english, korean):
    with translation.override("en"):
        assert wait_words(seconds, uncertain=uncertain) == english
    with translation.override("ko"):
        assert wait_words(seconds, uncertain=uncertain) == korean


def test_no_wait_is_ever_told_in_seconds_and_words_stay_short_enough_for_a_phone():
    for seconds in range(0, 50_000, 7):
        for uncertain in (False, True):
            with translation.override("en"):
                english = wait_words(seconds, uncertain=uncertain)
            with translation.override("ko"):
                korean = wait_words(seconds, uncertain=uncertain)
            assert " s" not in english and "초" not in korean
            assert len(english) <= 24 and len(korean) <= 14, (seconds, english, korean)


def test_a_longer_wait_never_reads_shorter():
    def minutes(words: str) -> float:  # "about 4 minutes", "about 1½ hours"
        number, unit = words.removeprefix("about ").replace("½", ".5").split()
        return float(number) * (60 if unit.startswith("hour") else 1)

    with translation.override("en"):
        told = [minutes(wait_words(s)) for s in range(60, 40_000, 30)]
    assert told == sorted(told)


def pace(**fields) -> Pace:
    return Pace(**{"rate_ema": 5.0, "pos_ema": 5.0, "admissible": None, "last_tick_ms": 1_000, **fields})


def test_the_wait_is_uncertain_before_the_pace_is_measured_while_slowed_or_when_long():
    assert not eta_uncertain(pace=pace(), throttled=False, eta=120)
    assert eta_uncertain(pace=pace(pos_ema=None), throttled=False, eta=120)  # no tick has shown the pace yet
    assert eta_uncertain(pace=pace(last_tick_ms=None), throttled=False, eta=120)
    assert eta_uncertain(pace=pace(), throttled=True, eta=120)
    assert eta_uncertain(pace=pace(), throttled=False, eta=LONG_WAIT_SECONDS + 1)
    assert not eta_uncertain(pace=pace(pos_ema=None), throttled=False, eta=None)  # nothing to tell


@pytest.mark.django_db(transaction=True)
def test_the_status_api_tells_the_wait_in_the_readers_language_and_no_number_while_paused():
    from tests.accounts.factories import UserFactory
    from tests.accounts.test_tokens import client_with
    from tests.waitingroom.factories import published_room
    from tests.waitingroom.test_room import account_token
    from waitingroom.services.queue import room_join
    from waitingroom.services.rooms import room_pause

    # given a line of 600 at one a second (no tick has measured the pace yet), and one more at its back
    room = published_room(admit_rate=1, max_active=1)
    for _ in range(600):
        room_join(room_id=room.pk, user_id=UserFactory().pk)
    client = client_with(account_token(UserFactory()))
    url = f"/api/v1/rooms/{room.slug}/status/"
    client.post(f"/api/v1/rooms/{room.slug}/join/")

    # then the wait is told as a range, in English or Korean as asked
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["eta_seconds"] == 601 and english["eta_uncertain"] is True
    assert english["eta_words"] == "8 to 13 minutes"
    assert client.get(url, HTTP_ACCEPT_LANGUAGE="ko-KR").json()["eta_words"] == "8~13분"

    # and while admission is paused there is no wait to tell
    room_pause(room=room)
    paused = client.get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    assert (paused["state"], paused["eta_seconds"], paused["eta_words"]) == ("paused", None, None)
