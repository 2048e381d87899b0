"""Every page, in English and Korean on a phone, passes axe-core's WCAG 2.1 A/AA rules (labels,
contrast, names, landmarks), and the claim works from the keyboard alone."""

import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from coupons.models import Campaign
from coupons.seats.services import seat_map_generate
from coupons.services.campaigns import campaign_publish
from coupons.services.claims import claim_create
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CampaignFactory, published_campaign
from tests.waitingroom.factories import published_room

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
PASSWORD = "a-long-passphrase-4-drops"


def violations(page) -> list[str]:
    """axe-core's WCAG 2 A and AA violations on the page, one line per rule and element."""
    # Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern
    # (a <script> tag of inline code, as add_script_tag makes, is refused by it, as it should be).
    page.evaluate(f"() => {{ {AXE}\n }}")
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    return [
        f"{v['id']} ({v['impact']}): {node['target']} {node['failureSummary'][:160]}"
        for v in result["violations"]
        for node in v["nodes"]
    ]


def log_in(page, username: str) -> None:
    page.goto(reverse("login"))
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("form[action$='/logout/'] button")).to_be_attached()  # behind the Menu button on a phone


@pytest.mark.parametrize(("locale", "scheme"), [("en-US", "light"), ("ko-KR", "light"), ("ko-KR", "dark")])
def test_every_page_passes_the_wcag_aa_rules(new_page, shots, locale, scheme):
    # given one of everything a visitor can see
    user = UserFactory(username="a11y")
    user.set_password(PASSWORD)
    user.save()
    credit = published_campaign(slug="credit", title="Credit drop", quantity=5, amount=10)
    claim_create(campaign_id=credit.pk, user_id=user.pk)
    protected = published_campaign(slug="protected", title="Protected drop", quantity=5)
    room = published_room(slug="line", title="The line", campaign=protected)
    concert = CampaignFactory(slug="concert", title="Concert", quantity=1, amount=0)
    seat_map_generate(campaign=concert, rows="A-B:50000", seats_per_row=4)
    campaign_publish(campaign=Campaign.objects.get(pk=concert.pk))

    anonymous = new_page(locale=locale, color_scheme=scheme)
    found = {}
    for name, path in (("home", "/"), ("login", reverse("login")), ("signup", reverse("signup")),
                       ("not found", "/campaigns/nothing/")):  # fmt: skip
        anonymous.goto(path)
        found[name] = violations(anonymous)
    page = new_page(locale=locale, color_scheme=scheme)
    log_in(page, "a11y")
    for name, path in (
        ("campaign with a grant", f"/campaigns/{credit.slug}/"),
        ("campaign behind a room", f"/campaigns/{protected.slug}/"),
        ("seat map", f"/campaigns/{concert.slug}/"),
        ("room", f"/rooms/{room.slug}/"),
        ("my grants", reverse("my-grants")),
        ("api token", reverse("api-token")),
        ("rankings", reverse("rankings")),
    ):
        page.goto(path)
        found[name] = violations(page)
    page.goto(f"/rooms/{room.slug}/")
    page.get_by_role("button", name=re.compile("Join the line|줄 서기")).click()
    found["room, in line"] = violations(page)
    shots(page, f"room-{locale}-{scheme}")

    failing = {name: lines for name, lines in found.items() if lines}
    assert failing == {}, "\n".join(f"{name}: {line}" for name, lines in failing.items() for line in lines)


def test_a_claim_from_the_keyboard_alone(new_page, shots, worker_factory):
    # given an open drop and a signed-in user who does not use a pointer
    worker_factory(name="keyboard")
    campaign = published_campaign(slug="keys", title="Keyboard drop", quantity=3)
    user = UserFactory(username="keys")
    user.set_password(PASSWORD)
    user.save()
    page = new_page()
    log_in(page, "keys")
    page.goto(f"/campaigns/{campaign.slug}/")

    # when they tab to the claim button and press Enter
    claim = page.get_by_role("button", name="Claim now")
    for _ in range(30):
        page.keyboard.press("Tab")
        if claim.evaluate("button => button === document.activeElement"):
            break
    else:
        pytest.fail("the claim button cannot be reached with Tab")
    shots(page, "focused")
    page.keyboard.press("Enter")

    # then the claim goes through and its result is announced where a screen reader listens
    expect(page.locator("[aria-live] [data-field=claim-result]")).to_contain_text(
        re.compile("You are in|Slot #1"), timeout=20_000
    )
    shots(page, "claimed")
