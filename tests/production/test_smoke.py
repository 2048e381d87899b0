"""Production smoke: the topology of deploy/ (nginx with TLS, a web node, worker, ticker, beat)
with the production settings, every page through the proxy, a claim, a room join, the
client address, the proxy's own error pages and Prometheus with the alert rules."""

import json
import re
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from accounts import services as account_services
from deploy import processes, topology, units
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign
from tests.processes import wait_until
from tests.production.client import request
from tests.production.conftest import ADMIN_PASSWORD, require_tool

pytestmark = [pytest.mark.production]

DEBUG_PAGE_MARKERS = ("DEBUG = True", "Traceback", "technical_500", "Page not found (404)</title>", "Using the URLconf")
HASHED = re.compile(r"\.[0-9a-f]{12}\.[^./]+$")


@pytest.fixture(scope="module")
def site(topology_factory):
    topology = topology_factory(web_nodes=1)
    # The demo data of make prod: campaigns, a room, seats, the admin and demo users.
    topology.manage("seed_demo", "--admin-password", ADMIN_PASSWORD, "--no-progress")
    return topology


def session(site) -> requests.Session:
    browser = requests.Session()
    browser.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`
    browser.verify = str(site.tls_ca)
    browser.headers["Accept-Language"] = "en"
    return browser


def get(browser: requests.Session, site, path: str) -> requests.Response:
    return browser.get(site.url + path, allow_redirects=False, timeout=15)


def log_in(browser: requests.Session, site, username: str, password: str) -> None:
    page = get(browser, site, "/admin/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = browser.post(
        site.url + "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": csrf, "username": username, "password": password},
        headers={"Referer": site.url + "/admin/login/"},  # HTTPS: Django's CSRF check wants it
        allow_redirects=False,
        timeout=15,
    )
    assert answer.status_code == 302, answer.text[:500]


def assert_production_page(answer: requests.Response, path: str) -> None:
    for marker in DEBUG_PAGE_MARKERS:
        assert marker not in answer.text, f"{path}: Django's debug page ({marker!r})"
    assert answer.headers["Strict-Transport-Security"].startswith("max-age="), path
    assert answer.headers["X-Content-Type-Options"] == "nosniff", path
    assert answer.headers["X-Frame-Options"] == "DENY", path
    assert answer.headers["Referrer-Policy"] == "same-origin", path
    assert answer.headers["Server"] == "nginx", path  # no version (server_tokens off)
    for cookie in answer.cookies:
        assert cookie.secure, f"{path}: cookie {cookie.name} without Secure"


class StaticLinks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value and value.startswith("/static/"):
                self.links.add(value)


ANONYMOUS_PAGES = {
    "/": 200,
    "/campaigns/welcome-10-krw/": 200,  # a drop
    "/rooms/concert-presale-line/": 200,  # a waiting room: it names the drop and asks to log in to join
    "/campaigns/concert-seats/": 200,  # the seat map
    "/rankings/": 200,
    "/accounts/login/": 200,
    "/accounts/signup/": 200,
    "/accounts/token/": 302,  # to the login page
    "/me/": 302,
    "/no-such-page/": 404,
    "/campaigns/no-such-drop/": 404,
    "/admin/login/": 200,
    "/admin/": 302,
    "/admin/dashboard/": 302,
}
STAFF_PAGES = {
    "/admin/": 200,
    "/admin/dashboard/": 200,
    "/accounts/token/": 200,
    "/me/": 200,
    "/rooms/concert-presale-line/": 200,
    "/": 200,
}


def test_every_page_answers_through_the_proxy_with_debug_off(site):
    # given: an anonymous visitor, then the staff account of the demo data
    anonymous, staff = session(site), session(site)
    log_in(staff, site, "admin", ADMIN_PASSWORD)
    static: set[str] = set()

    # when: every page is fetched through nginx over HTTPS
    for browser, pages in ((anonymous, ANONYMOUS_PAGES), (staff, STAFF_PAGES)):
        for path, expected in pages.items():
            answer = get(browser, site, path)

            # then: the expected answer, from the production settings, with the security headers
            assert answer.status_code == expected, f"{path}: {answer.status_code}\n{answer.text[:800]}"
            assert_production_page(answer, path)
            if expected == 302:
                assert "/login/" in answer.headers["Location"], path
            if path.startswith("/rooms/") and browser is anonymous:  # log in, then back to the room
                assert f"/accounts/login/?next={path}" in answer.text.replace("%2F", "/"), path
            if expected == 404:  # the project's own page, not Django's
                assert 'class="error-page__code">404<' in answer.text, path
            links = StaticLinks()
            links.feed(answer.text)
            static |= links.links
    assert any(HASHED.search(link) for link in static), f"no hashed static name on any page: {sorted(static)}"


def test_static_files_come_from_nginx_with_far_future_caching(site):
    # given: every static file a page names (collected with the manifest storage)
    browser = session(site)
    links = StaticLinks()
    for path in ("/", "/campaigns/concert-seats/", "/rankings/", "/admin/login/"):
        links.feed(get(browser, site, path).text)
    assert len(links.links) >= 4

    for link in sorted(links.links):
        # when: fetched through the proxy
        answer = browser.get(site.url + link, headers={"Accept-Encoding": "gzip"}, timeout=15)

        # then: served, cached for a year when the name carries its content's hash
        assert answer.status_code == 200, link
        assert answer.headers["X-Content-Type-Options"] == "nosniff", link
        if HASHED.search(link.split("?")[0]):
            assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable", link
    css = next(link for link in links.links if link.endswith(".css") and HASHED.search(link))
    assert browser.get(site.url + css, headers={"Accept-Encoding": "gzip"}).headers["Content-Encoding"] == "gzip"
    # an unhashed name may change meaning with the next release: a short cache only
    plain = browser.get(site.url + "/static/css/app.css", timeout=15)
    assert plain.status_code == 200
    assert plain.headers["Cache-Control"] == "public, max-age=300"
    missing = browser.get(site.url + "/static/css/no-such-file.css", timeout=15)
    assert missing.status_code == 404
    assert 'class="error-page__code">404<' in missing.text


def test_plain_http_redirects_to_https_and_probes_answer_there(site):
    answer = requests.get(site.http_url + "/campaigns/welcome-10-krw/?x=1", allow_redirects=False, timeout=10)
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"https://127.0.0.1:{site.https_port}/campaigns/welcome-10-krw/?x=1"
    for probe in ("/healthz", "/readyz"):
        answer = requests.get(site.http_url + probe, allow_redirects=False, timeout=10)
        assert answer.status_code == 200, (probe, answer.text)
    assert requests.get(site.http_url + "/readyz", timeout=10).json()["status"] == "ok"


def test_a_claim_and_a_room_join_work_through_the_proxy(site):
    # given: a demo user's bearer token, asked for through the proxy
    token = request(
        site,
        "POST",
        "/api/v1/auth/token/",
        body=json.dumps({"username": "alice", "password": "firstcome-demo"}).encode(),
    ).json()["token"]

    # when: alice claims the 10 KRW drop
    claim = request(site, "POST", "/api/v1/campaigns/welcome-10-krw/claims/", token=token)

    # then: accepted, and the worker delivers the grant
    assert claim.status == 202, claim.text
    grant_path = f"/api/v1/grants/{claim.json()['grant_id']}/"
    wait_until(
        lambda: request(site, "GET", grant_path, token=token).json()["status"] == "succeeded",
        timeout=30,
        message="the grant to succeed",
    )
    again = request(site, "POST", "/api/v1/campaigns/welcome-10-krw/claims/", token=token)
    assert again.status == 200 and again.json()["grant_id"] == claim.json()["grant_id"]

    # when: she joins the waiting room
    join = request(site, "POST", "/api/v1/rooms/concert-presale-line/join/", token=token)

    # then: she is in line (or already admitted), and her status says so
    assert join.status == 200, join.text
    assert join.json()["outcome"] in ("queued", "admitted")
    status = request(site, "GET", "/api/v1/rooms/concert-presale-line/status/", token=token).json()
    assert status["outcome"] in ("queued", "admitted")


def test_the_line_document_comes_from_the_proxys_cache_whoever_asks(site, orm):
    # given: a copy nginx made of the room's line document
    path = "/api/v1/rooms/concert-presale-line/line/"
    first = request(site, "GET", path)
    assert first.status == 200 and first.headers["Cache-Control"] == "public, max-age=1", first.text
    assert first.json()["state"] and "marks" in first.json()

    # when: others ask within the second, signed in or not, with cookies or a query string
    token = account_services.api_token_issue(user=UserFactory())[0]
    others = [
        request(site, "GET", path, token=token),
        request(site, "GET", path + "?bust=1", headers={"Cookie": "sessionid=x; django_language=ko"}),
        request(site, "GET", path, headers={"Accept-Language": "ko"}),
    ]

    # then: nginx answers from its copy (the same document), without asking a web node
    hits = [answer for answer in others if answer.headers["X-Cache"] == "HIT"]
    assert hits, [answer.headers["X-Cache"] for answer in others]
    assert all(answer.json()["generated_ms"] == first.json()["generated_ms"] for answer in hits)
    assert all("Set-Cookie" not in answer.headers for answer in [first, *others])


def test_the_web_node_sees_the_address_nginx_saw_not_a_forged_one(site, orm):
    # given: a drop that lets one address claim twice, and five users
    campaign = published_campaign(quantity=50, rate_user_burst=0, rate_ip_burst=2, rate_ip_per_second=0.001)
    tokens = [account_services.api_token_issue(user=UserFactory())[0] for _ in range(5)]
    path = f"/api/v1/campaigns/{campaign.slug}/claims/"

    def claim(token, source, forged=None):
        headers = {"X-Forwarded-For": forged} if forged else None
        return request(site, "POST", path, token=token, source=source, headers=headers).status

    # when / then: 127.0.0.21 spends its two claims, however it names itself
    assert claim(tokens[0], "127.0.0.21") == 202
    assert claim(tokens[1], "127.0.0.21", forged="127.0.0.99") == 202
    assert claim(tokens[2], "127.0.0.21", forged="10.1.2.3, 127.0.0.98") == 429
    # and naming another client does not spend that client's claims
    assert claim(tokens[3], "127.0.0.22", forged="127.0.0.21") == 202
    assert claim(tokens[4], "127.0.0.22") == 202


def test_the_proxy_answers_with_its_own_error_pages_when_no_node_answers(site):
    # given: the only web node stopped (as a crash or a botched deploy would)
    (port,) = site.web_ports
    site.web_service(port).stop()
    try:
        # when / then: pages get the project's page, the API its JSON error shape (a page nginx
        # keeps no copy of: the shared pages would be answered from a stale copy, docs/pages.md)
        page = requests.get(site.url + "/rankings/", verify=str(site.tls_ca), timeout=10)
        assert page.status_code == 502
        assert 'class="error-page__code">502<' in page.text and "Retry-After" in page.headers
        api = requests.post(site.url + "/api/v1/campaigns/x/claims/", verify=str(site.tls_ca), timeout=10)
        assert api.status_code == 502
        assert api.headers["Content-Type"].startswith("application/json")
        assert api.json()["code"] == "unavailable"
    finally:
        site.start_web(port)
    assert requests.get(site.url + "/healthz", verify=str(site.tls_ca), timeout=10).status_code == 200


def test_running_processes_are_the_units_command_lines(site):
    """One source of truth: what runs is what deploy/systemd says, word for word."""
    for name, service in site.services.items():
        if name == "nginx":
            continue
        cmdline = Path(f"/proc/{service.pid}/cmdline").read_bytes().split(b"\0")[:-1]
        argv = [word.decode() for word in cmdline]
        unit = name if "@" not in name else topology.WEB_UNIT
        instance = name.split("@", 1)[1].removesuffix(".service") if "@" in name else None
        (expected,) = units.unit_commands(units.unit_read(unit), env=site.env, instance=instance)
        # setpriv (User=) execs the command: the process is the unit's command itself
        assert argv[-len(expected) :] == expected or argv[1:] == expected, (name, argv, expected)


def _prometheus(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.load(response)["data"]


def test_prometheus_scrapes_the_site_and_sees_a_stalled_drain(site, tmp_path, orm):
    """Last in this module: it stops the workers (and starts them again)."""
    require_tool("prometheus", "prometheus")
    # given: Prometheus with deploy/prometheus's configuration and rules, scraping every second
    port = processes.free_port()
    prometheus = topology.prometheus_service(
        site, tmp_path / "prometheus", port=port, scrape_interval="1s", evaluation_interval="1s"
    ).start()
    try:
        # then: it reaches /metrics through nginx with the metrics token
        def target_up() -> bool:
            targets = _prometheus(port, "/api/v1/targets")["activeTargets"]
            return bool(targets) and targets[0]["health"] == "up"

        wait_until(target_up, timeout=20, message="Prometheus to scrape the site")

        # when: the workers stop and claims are accepted
        site.stop_unit("firstcome-worker.service")
        site.stop_unit("firstcome-ticker.service")
        campaign = published_campaign(quantity=20)
        for _ in range(3):
            token = account_services.api_token_issue(user=UserFactory())[0]
            assert request(site, "POST", f"/api/v1/campaigns/{campaign.slug}/claims/", token=token).status == 202

        # then: the stalled-drain alert goes pending (it fires after its `for:` of 2 minutes)
        def alert_state() -> str | None:
            alerts = _prometheus(port, "/api/v1/alerts")["alerts"]
            states = [a["state"] for a in alerts if a["labels"]["alertname"] == "FirstcomeDrainStalled"]
            return states[0] if states else None

        wait_until(lambda: alert_state() == "pending", timeout=30, message="FirstcomeDrainStalled pending")
        pending_query = '/api/v1/query?query=sum(firstcome_grants{status="pending"})'
        wait_until(
            lambda: _prometheus(port, pending_query)["result"][0]["value"][1] == "3",
            timeout=15,
            message="Prometheus to see the 3 pending grants",
        )

        # when: the workers come back, then: the grants settle and the alert clears
        site.start_background("firstcome-worker.service")
        site.start_background("firstcome-ticker.service")
        wait_until(lambda: alert_state() is None, timeout=60, message="FirstcomeDrainStalled to clear")
    finally:
        prometheus.stop()
        for unit in ("firstcome-worker.service", "firstcome-ticker.service"):
            if not site.services[unit].alive():
                site.start_background(unit)
