"""Korean and English: every page a user sees is fully translated, the language follows the browser
and the switcher, money reads naturally in each, and API error details speak the user's language."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from config.errors import ApplicationError
from coupons.models import Campaign
from coupons.seats.services import seat_map_generate
from coupons.services.campaigns import campaign_publish
from coupons.services.claims import claim_create
from coupons.services.wallets import wallet_adjust
from ranking.models import Board
from tests.coupons.factories import CampaignFactory, published_campaign
from tests.waitingroom.factories import published_room
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join, room_leave
from waitingroom.services.rooms import room_close, room_pause, room_resume

pytestmark = pytest.mark.django_db(transaction=True)

LOCALE = Path(settings.LOCALE_PATHS[0]) / "ko" / "LC_MESSAGES"
# Latin words a Korean page may keep: the brand, units and protocol names, the time zone.
ALLOWED_LATIN = {"firstcome", "api", "redis", "javascript", "kst", "utc"}
# API error details may name the parameters and formats the client sends.
API_PARAMETERS = frozenset({"period", "date", "all", "yyyy", "mm", "dd"})
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]+\}")


class VisibleText(HTMLParser):
    """What a reader sees or hears: text outside scripts, styles and code, plus labels read aloud."""

    SKIP = {"script", "style", "code", "textarea", "option"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        attributes = dict(attrs)
        for name in ("aria-label", "title", "placeholder", "alt"):
            if attributes.get(name):
                self.parts.append(attributes[name])
        if tag == "input" and attributes.get("type") == "submit" and attributes.get("value"):
            self.parts.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def english_left(html: str, allowed: frozenset[str] = frozenset()) -> set[str]:
    parser = VisibleText()
    parser.feed(html)
    words = re.findall(r"[A-Za-z]{2,}", " ".join(parser.parts))
    return {word for word in words if word.lower() not in ALLOWED_LATIN | allowed}


@pytest.fixture
def korean_user():
    return User.objects.create_user("민지", "minji@example.com", "a-long-passphrase-4-drops")


def ko_client(user=None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9,en;q=0.5")
    if user:
        client.force_login(user)
    return client


def korean_pages(user) -> dict[str, str]:
    """Every page of the site in its interesting states, with Korean content (titles are staff data)."""
    credit = published_campaign(slug="credit", title="선착순 만 명 10원", quantity=5, amount=10)
    coupon = published_campaign(slug="coupon", title="커피 할인", kind=Campaign.Kind.COUPON, amount=3000)
    claim_create(campaign_id=credit.pk, user_id=user.pk)
    wallet_adjust(user_id=user.pk, amount=120_000, reference="i18n-fund")
    concert = CampaignFactory(slug="concert", title="콘서트", quantity=1, amount=0)
    seat_map_generate(campaign=concert, rows="A-B:50000", seats_per_row=3)
    campaign_publish(campaign=Campaign.objects.get(pk=concert.pk))
    protected = published_campaign(slug="protected", title="한정판", quantity=3)
    room = published_room(slug="room", title="한정판 대기실", campaign=protected, admit_rate=5, max_active=1)
    Board.objects.update(title="순위표")

    client = ko_client(user)
    pages = {
        "home": client.get("/").content.decode(),
        "credit campaign with my grant": client.get(f"/campaigns/{credit.slug}/").content.decode(),
        "coupon campaign": client.get(f"/campaigns/{coupon.slug}/").content.decode(),
        "campaign behind a room": client.get(f"/campaigns/{protected.slug}/").content.decode(),
        "seat map": client.get(f"/campaigns/{concert.slug}/").content.decode(),
        "my grants": client.get(reverse("my-grants")).content.decode(),
        "api token": client.post(reverse("api-token")).content.decode(),
        "rankings": client.get(reverse("rankings")).content.decode(),
        "room, not in line": client.get(f"/rooms/{room.slug}/").content.decode(),
        "not found": client.get("/campaigns/nothing-here/").content.decode(),
    }
    other = User.objects.create_user("지수", "jisoo@example.com", "a-long-passphrase-4-drops")
    room_join(room_id=room.pk, user_id=other.pk)
    room_tick(room=room)  # the other takes the only active place
    client.post(f"/rooms/{room.slug}/join/")
    pages["room, queued (with a message)"] = client.get(f"/rooms/{room.slug}/").content.decode()
    room_pause(room=room)
    pages["room, paused"] = client.get(f"/rooms/{room.slug}/").content.decode()
    room_resume(room=room)
    room_leave(room_id=room.pk, user_id=other.pk)
    room_tick(room=room)
    pages["room, admitted"] = client.get(f"/rooms/{room.slug}/").content.decode()
    room_close(room=room, reason="sold_out")
    pages["room, sold out"] = client.get(f"/rooms/{room.slug}/").content.decode()
    anonymous = ko_client()
    pages["log in"] = anonymous.get(reverse("login")).content.decode()
    pages["sign up, with errors"] = anonymous.post(reverse("signup"), {"username": ""}).content.decode()
    pages["campaign, anonymous"] = anonymous.get(f"/campaigns/{credit.slug}/").content.decode()
    pages["room, anonymous"] = anonymous.get(f"/rooms/{room.slug}/").content.decode()
    return pages


def test_every_page_is_fully_korean_for_a_korean_browser(korean_user):
    pages = korean_pages(korean_user)
    leftovers = {name: english_left(html) for name, html in pages.items()}
    assert {name: words for name, words in leftovers.items() if words} == {}
    assert '<html lang="ko">' in pages["home"]
    assert "10원" in pages["credit campaign with my grant"] and "120,000원" in pages["my grants"]


def test_the_same_pages_stay_english_for_an_english_browser(korean_user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    client.force_login(korean_user)
    published_campaign(slug="credit", title="Ten won", amount=10_000)
    page = client.get("/campaigns/credit/").content.decode()
    assert '<html lang="en">' in page and "10,000 KRW into your wallet" in page and "Claim now" in page
    assert {"Claim", "now", "wallet"} <= english_left(page)  # the detector above sees English when there is some


def test_the_switcher_overrides_the_browser_and_sticks(korean_user):
    client = ko_client(korean_user)
    assert "로그아웃" in client.get("/").content.decode()
    response = client.post(reverse("set_language"), {"language": "en", "next": "/rankings/"})
    assert response.status_code == 302 and response["Location"] == "/rankings/"
    assert "Log out" in client.get("/").content.decode()  # the cookie wins over Accept-Language


def test_api_errors_keep_their_code_and_speak_the_users_language(korean_user):
    campaign = published_campaign(quantity=1)
    claim_create(campaign_id=campaign.pk, user_id=User.objects.create_user("first").pk)
    client = ko_client(korean_user)
    response = client.post(f"/api/v1/campaigns/{campaign.slug}/claims/", content_type="application/json")
    assert response.status_code == 409
    assert response.json() == {"code": "sold_out", "detail": "모든 수량이 소진되었습니다."}
    anonymous = ko_client().get("/api/v1/grants/")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert not english_left(anonymous.json()["detail"])


def every_error_class(cls=ApplicationError):
    for sub in cls.__subclasses__():
        yield sub
        yield from every_error_class(sub)


def test_every_domain_error_has_a_korean_message():
    with translation.override("ko"):
        untranslated = {
            cls.__name__
            for cls in every_error_class()
            if english_left(f"<p>{cls.default_detail}</p>", allowed=API_PARAMETERS)
        }
    assert untranslated == set()


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_korean_catalog_is_complete_consistent_and_compiled(domain):
    po = polib.pofile(str(LOCALE / f"{domain}.po"))
    assert po.untranslated_entries() == [] and po.fuzzy_entries() == []
    for entry in po.translated_entries():
        for msgstr in entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]:
            assert sorted(PLACEHOLDER.findall(entry.msgid)) == sorted(PLACEHOLDER.findall(msgstr)), entry.msgid

    def catalog(entries):
        return {(e.msgctxt, e.msgid): (e.msgstr, dict(e.msgstr_plural)) for e in entries}

    compiled = catalog(polib.mofile(str(LOCALE / f"{domain}.mo")))
    source = catalog(po.translated_entries())
    assert compiled == source, "run: manage.py compilemessages (the .mo is older than the .po)"


def test_krw_reads_naturally_in_each_language():
    from coupons.templatetags.money import krw

    with translation.override("ko"):
        assert krw(1_234_500) == "1,234,500원"
    with translation.override("en"):
        assert krw(1_234_500) == "1,234,500 KRW"
    assert krw(None) == ""


# Staff pages may also name files, stores and units, and Django's admin keeps its
# name and one untranslated alt text of its own (the search icon's).
ADMIN_LATIN = frozenset({"krw", "id", "ip", "ms", "w1", "docs", "md", "postgresql", "django", "search"})
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_the_admin_speaks_korean_to_korean_staff(korean_user):
    # given a campaign with grants and a room, and a superuser with a Korean browser
    campaign = published_campaign(slug="c-1", title="선착순", quantity=5)
    claim_create(campaign_id=campaign.pk, user_id=korean_user.pk)
    room = published_room(slug="r-1", title="대기실", campaign=campaign)
    boss = User.objects.create_superuser("운영자", "ops@example.com", "a-long-passphrase-4-drops")
    client = ko_client(boss)

    pages = {
        path: client.get(path).content.decode()
        for path in (
            "/admin/",
            "/admin/coupons/campaign/",
            "/admin/coupons/campaign/add/",
            f"/admin/coupons/campaign/{campaign.pk}/change/",
            "/admin/coupons/grant/",
            "/admin/waitingroom/waitingroom/",
            f"/admin/waitingroom/waitingroom/{room.pk}/change/",
            "/admin/ranking/board/add/",
            f"/admin/dashboard/?campaign={campaign.pk}",
        )
    }
    leftovers = {path: sorted(english_left(UUID.sub("", html), allowed=ADMIN_LATIN)) for path, html in pages.items()}
    assert {path: words for path, words in leftovers.items() if words} == {}, json.dumps(leftovers, indent=0)
