"""The client's IP address for per-IP rate limits: REMOTE_ADDR, or X-Forwarded-For behind trusted proxies."""

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # "::ffff:1.2.3.4" is 1.2.3.4
    return address


def client_ip(request: HttpRequest) -> str:
    """The address of whoever sent the request.

    X-Forwarded-For counts only when the request came from a proxy in
    settings.TRUSTED_PROXIES: the header is read from the right (each proxy
    appends the address it saw), skipping trusted proxies, and the first other
    address is the client. Entries left of it were written by the client and
    are never believed; a malformed one stops the walk at the last trusted hop.
    """
    meta = request.META
    return _client_ip(
        meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR", ""), tuple(settings.TRUSTED_PROXIES)
    )


# Each web process meets the same clients again and again (a drop's claims and polls): their
# addresses are parsed once. Bounded, so headers made up to fill it only push others out.
@functools.lru_cache(maxsize=65_536)
def _client_ip(remote_text: str, forwarded: str, trusted_cidrs: tuple[str, ...]) -> str:
    remote = _address(remote_text)
    if remote is None:
        return "0.0.0.0"  # no socket address (a test client, a unix socket): one shared bucket
    trusted = _networks(trusted_cidrs)

    def is_trusted(address) -> bool:
        return any(address in network for network in trusted)

    hop = remote
    if not is_trusted(hop):
        return str(hop)
    for entry in reversed(forwarded.split(",") if forwarded else []):
        address = _address(entry)
        if address is None:
            break
        hop = address
        if not is_trusted(hop):
            break
    return str(hop)
