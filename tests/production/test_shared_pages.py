"""The shared pages through the real nginx (docs/pages.md): one copy per page and language for
everybody, at most a second old, never carrying one visitor's data or cookies to another; the
visitor's own parts in the fc_me cookie; the forms' token from the csrftoken cookie."""

import base64
import json
import re
import threading
import time

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from coupons.models import Campaign
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.coupons.factories import published_campaign
from tests.production.client import loopback_addresses, request

pytestmark = [pytest.mark.production]

SHARED = ("/", "/api/v1/campaigns/")


@pytest.fixture(scope="module")
def site(topology_factory):
    return topology_factory(web_nodes=1)


def production_user(username: str):
    """A user whose password the production settings check (the test settings hash with MD5)."""
    user = UserFactory(username=username)
    user.password = PBKDF2PasswordHasher().encode(DEFAULT_PASSWORD, "sharedpagessalt", iterations=1000)
    type(user).objects.filter(pk=user.pk).update(password=user.password)
    return user


def browser(site, language: str = "en") -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(site.tls_ca)
    session.headers["Accept-Language"] = language
    return session


def get(session: requests.Session, site, path: str, **kwargs) -> requests.Response:
    return session.get(site.url + path, allow_redirects=False, timeout=15, **kwargs)


def log_in(session: requests.Session, site, username: str) -> requests.Response:
    page = get(session, site, "/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        site.url + "/accounts/login/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": DEFAULT_PASSWORD},
        headers={"Referer": site.url + "/accounts/login/"},
        allow_redirects=False,
        timeout=15,
    )
    assert answer.status_code == 302, answer.text[:500]
    return answer


def me_cookie(session: requests.Session) -> dict | None:
    value = session.cookies.get("fc_me")
    if value in (None, "0"):
        return None
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def fresh_copy(session: requests.Session, site, path: str, **kwargs) -> tuple[requests.Response, int]:
    """The first answer after the previous copy expired (one the web node rendered for this request), asked
    just after a second began, and that second: the copy lives through it (until the next second begins)."""
    for _ in range(40):
        time.sleep(1.02 - time.time() % 1)  # a new second: the copies of the previous one have expired
        second = int(time.time())
        answer = get(session, site, path, **kwargs)
        if answer.headers.get("X-Cache") in ("MISS", "EXPIRED"):
            return answer, second
    raise AssertionError(f"{path}: never refreshed ({answer.headers.get('X-Cache')})")


def test_a_copy_rendered_for_a_logged_in_user_is_everyones_and_holds_nothing_of_theirs(site, orm):
    # given: user A, logged in, holding a claim, the first to ask for each page after its copy expired
    campaign = published_campaign(title="Shared drop")
    alice = production_user("alice-shared")
    a = browser(site)
    log_in(a, site, alice.username)
    assert me_cookie(a)["name"] == "alice-shared"
    csrf = a.cookies["csrftoken"]
    claim = a.post(
        f"{site.url}/api/v1/campaigns/{campaign.slug}/claims/",
        json={},
        headers={"X-CSRFToken": csrf, "Referer": site.url + "/"},
        timeout=15,
    )
    assert claim.status_code == 202, claim.text
    for path in (*SHARED, f"/campaigns/{campaign.slug}/", f"/api/v1/campaigns/{campaign.slug}/"):
        for _attempt in range(5):
            mine, second = fresh_copy(a, site, path)
            assert mine.status_code == 200, path
            # then: what A got carries no cookie and nothing of A's
            assert "Set-Cookie" not in mine.headers, (path, mine.headers.get("Set-Cookie"))
            assert "alice-shared" not in mine.text and csrf not in mine.text, path
            assert 'name="csrfmiddlewaretoken"' not in mine.text, path
            assert mine.headers["Cache-Control"] == "no-cache" and "X-Accel-Expires" not in mine.headers, path
            # and B (logged in elsewhere) and an anonymous visitor get that very copy from nginx
            bob = browser(site)
            bob.cookies.set("sessionid", "not-a-session", domain="127.0.0.1")
            theirs = [get(other, site, path) for other in (bob, browser(site))]
            if int(time.time()) != second:
                continue  # a slow exchange crossed into the next second, where A's copy rightly expired: again
            for answer in theirs:
                assert answer.headers["X-Cache"] in ("HIT", "UPDATING"), (path, answer.headers["X-Cache"])
                assert "Set-Cookie" not in answer.headers, path
                assert "alice-shared" not in answer.text, path
            break
        else:
            pytest.fail(f"{path}: no exchange stayed within one second in five tries")
    # the personal copy (a query string) is A's own, never kept
    personal = get(a, site, f"/campaigns/{campaign.slug}/?mine=1")
    assert "alice-shared" in personal.text and personal.headers["X-Cache"] == "BYPASS"
    assert get(browser(site), site, f"/campaigns/{campaign.slug}/?mine=1").text.count("alice-shared") == 0


def test_languages_never_mix(site, orm):
    published_campaign()
    korean, english = browser(site, "ko-KR,ko;q=0.9,en;q=0.8"), browser(site, "en-US,en;q=0.9")
    by_cookie = browser(site, "en")
    by_cookie.cookies.set("django_language", "ko", domain="127.0.0.1")
    for _ in range(3):  # whichever fills the copy, each reads its own language
        for session, lang in ((korean, "ko"), (english, "en"), (by_cookie, "ko"), (korean, "ko"), (english, "en")):
            for path in ("/", "/api/v1/campaigns/"):
                answer = get(session, site, path)
                assert answer.status_code == 200
                assert answer.headers["Content-Language"] == lang, (path, lang, answer.headers["Content-Language"])
            page = get(session, site, "/")
            assert f'<html lang="{lang}">' in page.text
        time.sleep(0.6)


def test_a_change_shows_within_a_second(site, orm):
    campaign = published_campaign(title="Before the change")
    path = f"/campaigns/{campaign.slug}/"
    visitor = browser(site)
    assert "Before the change" in get(visitor, site, path).text
    get(visitor, site, path)  # a copy exists now
    Campaign.objects.filter(pk=campaign.pk).update(title="After the change")
    changed = time.monotonic()
    while True:
        # judged by when the request was sent: a slow answer on a busy machine may rightly be an old copy
        sent = time.monotonic()
        if "After the change" in get(visitor, site, path).text:
            break
        assert sent - changed < 2.5, "a request sent 2.5 s after the change got the old copy (1 s + margin)"
        time.sleep(0.05)


def test_a_copy_is_kept_through_the_second_of_its_render_only(site, orm):
    """nginx counts cache lifetimes in whole seconds: a copy must not outlive the second it was made in
    ("X-Accel-Expires: 1" would keep it through the next whole second too, up to 2 s old)."""
    campaign = published_campaign()
    path = f"/campaigns/{campaign.slug}/"
    visitor = browser(site)
    get(visitor, site, path)  # a copy exists
    for _attempt in range(5):
        # given: a fresh copy made early in a second (waited for, then forced by a refresh ahead of it)
        time.sleep(1.15 - time.time() % 1)
        made = time.time()
        first = get(visitor, site, path)
        again = get(visitor, site, path)
        if int(time.time()) != int(made) or first.headers["X-Cache"] == "HIT":
            continue  # the exchange crossed a second, or the copy was made by someone else: again
        assert again.headers["X-Cache"] == "HIT", again.headers["X-Cache"]  # kept within its second
        # when: the next second has begun
        time.sleep(int(made) + 1.1 - time.time())
        later = get(visitor, site, path)
        # then: the copy of the previous second is not served as current
        assert later.headers["X-Cache"] in {"EXPIRED", "MISS"}, later.headers["X-Cache"]
        return
    pytest.fail("no exchange stayed within one second in five tries")


def upstream_lines(site, path: str, start: int) -> list[str]:
    log = site.run_dir / "nginx-access.log"
    with log.open("rb") as handle:
        handle.seek(start)
        lines = handle.read().decode(errors="replace").splitlines()
    return [line for line in lines if f'"GET {path} HTTP' in line and line.split('" ', 1)[1].split()[3] != "-"]


def test_a_crowd_costs_about_one_request_a_second_per_page(site, orm):
    # given: a copy of each page (warm, as before an opening)
    campaign = published_campaign()
    paths = ["/", f"/campaigns/{campaign.slug}/", "/api/v1/campaigns/"]
    warm = browser(site)
    for path in paths:
        get(warm, site, path)
    log = site.run_dir / "nginx-access.log"
    start = log.stat().st_size
    seconds = 3.0
    answered: list[int] = []

    # when: 16 visitors (each their own address, session and language) refresh as fast as they can for 3 s
    def visitor(n: int, address: str) -> None:
        headers = {"Accept": "*/*", "Accept-Language": "ko" if n % 2 else "en"}
        if n % 4 == 0:
            headers["Cookie"] = f"sessionid=s{n}"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for path in paths:
                answered.append(request(site, "GET", path, source=address, headers=headers, timeout=15).status)

    addresses = loopback_addresses(16, block=30)
    threads = [threading.Thread(target=visitor, args=(n, address)) for n, address in enumerate(addresses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: each page and language reached the web node about once a second (a copy lives through the
    # second of its render; a render that ends in the next second is stale at once: one more there at most)
    assert len(answered) > 200 and set(answered) == {200}
    time.sleep(0.2)
    with log.open("rb") as handle:
        handle.seek(start)
        seen = {line.split(" ", 1)[0] for line in handle.read().decode(errors="replace").splitlines()}
    assert set(addresses) <= seen, "nginx saw the visitors from their own addresses"
    for path in paths:
        upstream = upstream_lines(site, path, start)
        assert len(upstream) <= 2 * 2 * (seconds + 1), (path, len(upstream), len(answered))


def test_the_me_cookie_follows_login_claim_and_logout(site, orm):
    campaign = published_campaign(quantity=5)
    carol = production_user("carol-shared")
    session = browser(site)
    # an anonymous visitor's script asks once: "0" and a csrftoken cookie
    state = get(session, site, "/me/state/")
    assert state.json() == {"me": None} and session.cookies["fc_me"] == "0" and session.cookies["csrftoken"]
    assert state.headers["Cache-Control"] == "private, no-store"
    # login
    log_in(session, site, carol.username)
    assert me_cookie(session) == {"name": "carol-shared", "staff": False, "balance": 0, "claims": {}}
    # claim (through the API, as the page's script does)
    answer = session.post(
        f"{site.url}/api/v1/campaigns/{campaign.slug}/claims/",
        json={},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": site.url + "/"},
        timeout=15,
    )
    assert answer.status_code == 202, answer.text
    grant_id, slot, status = me_cookie(session)["claims"][campaign.slug]
    assert grant_id == answer.json()["grant_id"] and slot == 1 and status in ("pending", "succeeded")
    # the pending claim is delivered by a worker: /me/state/ (the script asks while pending) catches up
    deadline = time.monotonic() + 20
    while me_cookie(session)["claims"][campaign.slug][2] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.3)
        get(session, site, "/me/state/")
    assert me_cookie(session)["balance"] == campaign.amount
    # logout, with the token the script puts into the shared page's form (from the cookie)
    home = get(session, site, "/")
    assert 'action="/accounts/logout/"' in home.text and "csrfmiddlewaretoken" not in home.text
    out = session.post(
        site.url + "/accounts/logout/",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": site.url + "/"},
        allow_redirects=False,
        timeout=15,
    )
    assert out.status_code == 302, out.text[:300]
    assert "fc_me" not in session.cookies


def test_a_form_on_a_shared_page_without_the_token_is_refused(site, orm):
    session = browser(site)
    get(session, site, "/me/state/")
    refused = session.post(
        site.url + "/i18n/setlang/", data={"language": "ko"}, headers={"Referer": site.url + "/"}, timeout=15
    )
    assert refused.status_code == 403
    accepted = session.post(
        site.url + "/i18n/setlang/",
        data={"language": "ko", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": site.url + "/"},
        allow_redirects=False,
        timeout=15,
    )
    assert accepted.status_code == 302 and session.cookies["django_language"] == "ko"
