"""The client IP for rate limits: REMOTE_ADDR, and X-Forwarded-For only through trusted proxies."""

import pytest
from django.test import RequestFactory

from config.clientip import client_ip
from config.ratelimit import ip_bucket_id


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request("203.0.113.1", "1.2.3.4")) == "203.0.113.1"
    assert client_ip(request("::ffff:203.0.113.1")) == "203.0.113.1"


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),  # one trusted proxy
        ("10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own entry is not believed
        ("10.0.0.2", "198.51.100.7, 10.0.0.3", "198.51.100.7"),  # two trusted hops
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", "10.0.0.4"),  # only proxies: the farthest one
        ("10.0.0.2", "", "10.0.0.2"),  # no header: the proxy itself
        ("10.0.0.2", "garbage, 10.0.0.3", "10.0.0.3"),  # malformed: stop at the last trusted hop
        ("10.0.0.2", "198.51.100.7:5555", "10.0.0.2"),  # ports are not addresses
        ("10.0.0.2", " 2001:db8::1 ", "2001:db8::1"),
        ("203.0.113.9", "198.51.100.7", "203.0.113.9"),  # an untrusted peer cannot name a client
    ],
)
def test_behind_trusted_proxies(settings, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    assert client_ip(request(remote, forwarded)) == expected


def test_no_remote_address_shares_one_bucket(settings):
    assert client_ip(request("")) == "0.0.0.0"


def test_ipv6_buckets_are_per_64():
    assert ip_bucket_id("2001:db8:1:2:3:4:5:6") == ip_bucket_id("2001:db8:1:2::9") == "2001:db8:1:2::/64"
    assert ip_bucket_id("203.0.113.1") == "203.0.113.1"
