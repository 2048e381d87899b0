"""docs/tour.md: a picture of every page a visitor, a customer and staff see, on a desktop and a
phone, in English and Korean, taken by the browser suite so it cannot go stale.

`make tour` regenerates the pictures (docs/tour/) and the page (FIRSTCOME_TOUR=1). In `make test`
the same walk runs into test-artifacts/ and fails when docs/tour.md no longer lists exactly the
pages and pictures the walk takes: a page added to the walk, or renamed, needs `make tour`.
"""

import os
import re
from dataclasses import dataclass

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import User
from coupons.models import Campaign
from coupons.seats.services import seat_map_generate
from coupons.services.campaigns import campaign_publish
from coupons.services.claims import claim_create
from tests.accounts.factories import UserFactory
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_accessibility import PASSWORD, log_in
from tests.coupons.factories import CampaignFactory, funded_user, published_campaign
from tests.processes import ROOT
from tests.waitingroom.factories import published_room
from waitingroom.services.queue import room_join

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOUR_PAGE = ROOT / "docs" / "tour.md"
TOUR_DIR = ROOT / "docs" / "tour"
VARIANTS = (("desktop", "en"), ("phone", "en"), ("desktop", "ko"), ("phone", "ko"))
LOCALES = {"en": "en-US", "ko": "ko-KR"}


@dataclass(frozen=True)
class Stop:
    key: str
    title: str
    who: str  # anonymous | customer | staff
    path: str
    about: str


def stops() -> list[Stop]:
    return [
        Stop("home", "Home: the drops", "anonymous", "/", "Every published drop with its stock and when it opens."),
        Stop("signup", "Sign up", "anonymous", reverse("signup"), "An account in one form."),
        Stop("login", "Log in", "anonymous", reverse("login"), "Back to a drop after logging in."),
        Stop("drop", "A drop, claimed", "customer", "/campaigns/credit/", "The claim and what it gave."),
        Stop("room", "The waiting room, in line", "customer", "/rooms/line/", "Your place, who is ahead, the wait."),
        Stop("seats", "Choosing a seat", "customer", "/campaigns/concert/", "The hall by section, row and price."),
        Stop("grants", "My grants", "customer", reverse("my-grants"), "What you got, with dates on the site's clock."),
        Stop("token", "API token", "customer", reverse("api-token"), "A token for scripts, ready to paste."),
        Stop("rankings", "Rankings", "anonymous", reverse("rankings"), "The boards, by period."),
        Stop("not-found", "A page that does not exist", "anonymous", "/campaigns/nothing/", "The project's own 404."),
        Stop("dashboard", "Live dashboard (staff)", "staff", "/admin/dashboard/", "A drop's numbers every second."),
        Stop("campaigns", "Campaigns in the admin (staff)", "staff", "/admin/coupons/campaign/", "The drops."),
    ]


def picture(stop: Stop, device: str, language: str) -> str:
    return f"{stop.key}-{device}-{language}.jpg"


def tour_markdown(walk: list[Stop]) -> str:
    lines = [
        "# A tour of firstcome",
        "",
        "Every page a visitor, a customer and staff see, on a desktop (1280 × 900) and a phone (390 × 844),",
        "in English and Korean: the first screen of each, as the browser suite sees it",
        "(`tests/browser/test_tour.py`). Regenerate with `make tour` after a page changes; `make test` fails",
        "when this page no longer lists what the walk takes.",
        "",
    ]
    for stop in walk:
        lines += [f"## {stop.title}", "", f"`{stop.path}` ({stop.who}). {stop.about}", ""]
        lines += ["| desktop, English | phone, English | desktop, 한국어 | phone, 한국어 |", "|---|---|---|---|"]
        cells = [f"![{stop.key} {d} {lang}](tour/{picture(stop, d, lang)})" for d, lang in VARIANTS]
        lines += ["| " + " | ".join(cells) + " |", ""]
    return "\n".join(lines)


def world() -> None:
    """One of everything the pages show, with a customer in line, holding a grant and a coupon."""
    customer = funded_user(username="mina")
    customer.set_password(PASSWORD)
    customer.save()
    User.objects.create_superuser("ops", "ops@example.com", PASSWORD)
    credit = published_campaign(slug="credit", title="10,000 KRW for the first 100", quantity=100, amount=10_000)
    claim_create(campaign_id=credit.pk, user_id=customer.pk)
    coupon = published_campaign(
        slug="coupon", title="30% off, 50 coupons", quantity=50, amount=3_000, kind=Campaign.Kind.COUPON
    )
    claim_create(campaign_id=coupon.pk, user_id=customer.pk)
    protected = published_campaign(slug="protected", title="Limited sneakers", quantity=20)
    room = published_room(slug="line", title="Sneakers line", campaign=protected)
    for other in UserFactory.create_batch(12):
        room_join(room_id=room.pk, user_id=other.pk)
    room_join(room_id=room.pk, user_id=customer.pk)
    concert = CampaignFactory(slug="concert", title="Concert, hall A", quantity=1, amount=0)
    seat_map_generate(campaign=concert, rows="A-C:50000, D-E:30000", seats_per_row=10)
    campaign_publish(campaign=Campaign.objects.get(pk=concert.pk))


def test_the_tour_shows_every_page(new_page):
    regenerate = os.environ.get("FIRSTCOME_TOUR") == "1"
    out = TOUR_DIR if regenerate else ARTIFACTS / "tour"
    out.mkdir(parents=True, exist_ok=True)
    world()
    walk = stops()
    taken = []
    for device, language in VARIANTS:
        pages = {}
        for who in ("anonymous", "customer", "staff"):
            page = new_page(locale=LOCALES[language], desktop=device == "desktop")
            if who == "customer":
                log_in(page, "mina")
            elif who == "staff":
                page.goto("/admin/login/")
                page.locator("#id_username").fill("ops")
                page.locator("#id_password").fill(PASSWORD)
                page.locator("input[type=submit], button[type=submit]").first.click()
                expect(page.locator("#user-tools")).to_be_visible()
            pages[who] = page
        for stop in walk:
            page = pages[stop.who]
            page.goto(stop.path)
            page.wait_for_load_state("networkidle")
            path = out / picture(stop, device, language)
            page.screenshot(path=str(path), type="jpeg", quality=70)
            taken.append(path.name)
    assert len(taken) == len(walk) * len(VARIANTS) and all((out / name).stat().st_size > 5_000 for name in taken)

    markdown = tour_markdown(walk)
    if regenerate:
        TOUR_PAGE.write_text(markdown, encoding="utf-8")
        for stale in set(p.name for p in TOUR_DIR.glob("*.jpg")) - set(taken):
            (TOUR_DIR / stale).unlink()
        return
    # the committed tour lists exactly this walk, and every picture it shows is committed
    assert TOUR_PAGE.read_text(encoding="utf-8") == markdown, "docs/tour.md is stale: run `make tour`"
    linked = re.findall(r"\(tour/([^)]+)\)", markdown)
    missing = [name for name in linked if not (TOUR_DIR / name).is_file()]
    assert not missing, f"pictures missing from docs/tour/ (run `make tour`): {missing}"
