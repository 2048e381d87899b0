"""The shared pages' in-process copies (config/memo.py, coupons/published.py) never show an old state:
a change of stock, title or status, or another language, shows on the very next render."""

import re

import pytest
from rest_framework.renderers import JSONRenderer

from config import shared_pages
from coupons import published
from coupons.api.views import CampaignOutputSerializer
from coupons.models import Campaign
from coupons.services.campaigns import campaign_close
from coupons.services.claims import claim_create
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign

pytestmark = pytest.mark.django_db(transaction=True)

RENDERED_AT = re.compile(r'data-rendered-at="[0-9.]+"')


def page(client, path: str, language: str = "en") -> str:
    response = client.get(path, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def test_the_home_page_shows_each_change_at_the_next_render(client):
    # given a drop whose home page was rendered (and kept)
    drop = published_campaign(title="Morning drop", quantity=5)
    assert "Morning drop" in page(client, "/") and "5 of 5 left" in page(client, "/")

    # a claim shows in the stock
    claim_create(campaign_id=drop.pk, user_id=UserFactory().pk)
    assert "4 of 5 left" in page(client, "/")

    # a new title (a save) shows
    drop.title = "Evening drop"
    drop.save(update_fields=["title", "updated_at"])
    assert "Evening drop" in page(client, "/") and "Morning drop" not in page(client, "/")

    # a status moved by a bulk update shows
    Campaign.objects.filter(pk=drop.pk).update(status=Campaign.Status.SOLD_OUT)
    assert "badge--sold_out" in page(client, "/")

    # each language has its own copy
    assert '<html lang="ko">' in page(client, "/", "ko") and '<html lang="en">' in page(client, "/", "en")

    # a new drop shows too
    published_campaign(title="Another drop")
    assert "Another drop" in page(client, "/")


def test_a_drops_page_shows_each_change_and_its_own_render_moment(client):
    drop = published_campaign(title="Morning drop", quantity=5)
    path = f"/campaigns/{drop.slug}/"
    first = page(client, path)
    assert RENDERED_AT.search(first).group() != RENDERED_AT.search(page(client, path)).group()

    claim_create(campaign_id=drop.pk, user_id=UserFactory().pk)
    assert '<strong data-field="remaining">4</strong> of 5 left' in page(client, path)

    drop.title = "Evening drop"
    drop.save(update_fields=["title", "updated_at"])
    assert "<h1>Evening drop</h1>" in page(client, path)

    campaign_close(campaign=drop)
    assert 'data-status="closed"' in page(client, path)
    assert '<html lang="ko">' in page(client, path, "ko")


@pytest.mark.parametrize("path", ["/", "/campaigns/{slug}/"])
def test_a_kept_copy_is_the_page_a_render_gives(client, path):
    drop = published_campaign(title="Kept drop")
    path = path.format(slug=drop.slug)
    for language in ("en", "ko"):
        shared_pages._renders.clear()
        rendered = page(client, path, language)  # rendered now
        kept = page(client, path, language)  # from the copy
        assert RENDERED_AT.sub("", kept) == RENDERED_AT.sub("", rendered)


def test_with_the_memo_off_every_request_renders(client, settings):
    drop = published_campaign(title="Rendered each time")
    path = f"/campaigns/{drop.slug}/"
    shared_pages._renders.clear()
    settings.RENDER_MEMO = False
    first, second = page(client, path, "en"), page(client, path, "en")
    assert RENDERED_AT.sub("", first) == RENDERED_AT.sub("", second)
    assert len(shared_pages._renders) == 0  # nothing kept
    settings.RENDER_MEMO = True
    page(client, path, "en")
    assert len(shared_pages._renders) == 1


def test_the_campaign_list_is_the_serializers_output_and_current(client):
    drops = [published_campaign(quantity=5, description=f"Drop {n}\nwith lines") for n in range(3)]
    claim_create(campaign_id=drops[0].pk, user_id=UserFactory().pk)

    for _ in range(2):  # serialized now, then from the copies
        answer = client.get("/api/v1/campaigns/")
        campaigns = list(Campaign.objects.filter(pk__in=[d.pk for d in drops]).order_by("-opens_at"))
        remaining = {c.pk: (4 if c.pk == drops[0].pk else 5) for c in campaigns}
        expected = CampaignOutputSerializer(campaigns, many=True, context={"remaining": remaining}).data
        assert answer.content == JSONRenderer().render(expected)
        assert answer["Content-Type"] == "application/json"

    # an indent asked for is the renderer's, as before
    indented = client.get("/api/v1/campaigns/", HTTP_ACCEPT="application/json; indent=2")
    assert indented.content == JSONRenderer().render(expected, "application/json; indent=2")

    Campaign.objects.filter(pk=drops[1].pk).update(title="Renamed")
    claim_create(campaign_id=drops[2].pk, user_id=UserFactory().pk)
    by_slug = {item["slug"]: item for item in client.get("/api/v1/campaigns/").json()}
    assert by_slug[drops[1].slug]["title"] == "Renamed"
    assert by_slug[drops[2].slug]["remaining"] == 4


def test_the_copy_is_read_again_after_the_version_is_lost(client):
    # given a copy read at some version, then Redis flushed (the version gone) and a row changed behind it
    drop = published_campaign(title="Before")
    assert "Before" in page(client, "/")
    from config import redis as fc_redis
    from coupons import listing_redis

    fc_redis.client().delete(fc_redis.key(listing_redis.CAMPAIGNS_VERSION_KEY))
    Campaign.objects.filter(pk=drop.pk).update(title="After")
    fc_redis.client().delete(fc_redis.key(listing_redis.CAMPAIGNS_VERSION_KEY))

    # then the next render reads the rows again
    assert "After" in page(client, "/")
    assert published.campaign_published(slug=drop.slug).title == "After"


@pytest.mark.parametrize("path", ["/", "/campaigns/{slug}/"])
def test_a_page_made_of_kept_parts_is_the_page_a_whole_render_gives(client, settings, path):
    # given two drops, and each page's parts (shell, cards, the drop's parts but its stock) kept
    drop, other = published_campaign(title="Parts drop", quantity=5), published_campaign(title="Other", quantity=7)
    path = path.format(slug=drop.slug)
    for claimed, language in enumerate(("en", "ko"), start=1):
        page(client, path, language)

        # when the stock moves (the page's copy is new, its unchanged parts are kept)
        claim_create(campaign_id=drop.pk, user_id=UserFactory().pk)
        fragments_before = len(shared_pages._fragments)
        assembled = page(client, path, language)

        # then only the part that shows the moved stock was rendered again (home: its card), the new
        # stock shows, and the page is byte for byte what a render of every part gives
        assert len(shared_pages._fragments) == fragments_before + (1 if path == "/" else 0)
        assert f"width: {(5 - claimed) * 20}%" in assembled
        assert other.title in assembled or path != "/"
        settings.RENDER_MEMO = False  # (a changed setting also empties the memos)
        whole = page(client, path, language)
        settings.RENDER_MEMO = True
        assert RENDERED_AT.sub("", assembled) == RENDERED_AT.sub("", whole)


def test_a_personal_page_keeps_no_part(client):
    # given a visitor who asks for their own page (a query string) while logged in
    user = UserFactory()
    client.force_login(user)
    drop = published_campaign(title="Mine")
    shared_pages._fragments.clear()

    # then nothing of it is kept, and it shows them
    for path in ("/?mine=1", f"/campaigns/{drop.slug}/?mine=1"):
        assert user.username in page(client, path)
    assert len(shared_pages._fragments) == 0


def test_a_room_put_in_front_of_a_drop_shows_on_its_page(client):
    from tests.waitingroom.factories import WaitingRoomFactory

    drop = published_campaign(title="Roomless")
    path = f"/campaigns/{drop.slug}/"
    assert "Go to the waiting room" not in page(client, path)
    WaitingRoomFactory(campaign=drop)
    assert "Go to the waiting room" in page(client, path)
