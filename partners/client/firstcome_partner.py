"""firstcome's waiting room for a partner's visitors, the partner's side: copy this one file into your backend.

Python 3.10+, standard library only, no call to firstcome: your backend signs the
room token it sends a visitor to the room with, and verifies offline the pass the
visitor brings back (docs/partners.md, §5). Both are signed with your partner
signing secret (`whsec_...`, the one that signs your webhooks):

    from firstcome_partner import PassError, pass_verify, room_token

    url = f"https://firstcome.example/partners/acme/rooms/spring-sale/?token={room_token(SECRET,
        partner='acme', room='spring-sale', client_id='user-8472')}"
    ...
    try:  # at your return URL, with the ?firstcome_pass=... the visitor came back with
        admitted = pass_verify(request.GET["firstcome_pass"], SECRET, partner="acme", room="spring-sale",
                               client_id=your_logged_in_user_id)
    except PassError as error:
        return error.code  # pass_invalid, pass_expired, pass_wrong_partner, pass_wrong_room, pass_wrong_client
    # then claim: POST /api/v1/partner/campaigns/spring-sale/claims/
    #             {"client_id": admitted.client_id, "access_pass": <the same pass>}  (it works once)

A token is "fcp1." + base64url(JSON payload) + "." + base64url(HMAC-SHA256 signature). The
key is HMAC-SHA256(the secret's bytes, "firstcome partner token v1"), so a token can never
pass for a webhook signature or the other way round. firstcome's server uses this very file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

VERSION = "fcp1"
ROOM_TOKEN_MAX_SECONDS = 600  # firstcome refuses a room token that lives longer (token_invalid)
_KEY_LABEL = b"firstcome partner token v1"


class TokenError(ValueError):
    """A token that cannot be trusted; `code` says why (stable, snake_case)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class PassError(TokenError):
    pass


@dataclass(frozen=True)
class Admission:
    """A verified pass: this visitor of yours was admitted to this room, until `expires_ms`."""

    partner: str
    room: str
    client_id: str
    expires_ms: int


def _key(signing_secret: str) -> bytes:
    raw = signing_secret.removeprefix("whsec_")
    try:
        secret = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        secret = raw.encode()
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(signing_secret: str, payload: dict) -> str:
    body = f"{VERSION}.{_b64(json.dumps(payload, separators=(',', ':'), sort_keys=True).encode())}"
    mac = hmac.new(_key(signing_secret), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def peek(token: str) -> dict:
    """The payload, NOT verified (to find whose secret verifies it); TokenError when garbled."""
    try:
        version, body, _mac = token.split(".")
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError):
        raise TokenError("token_invalid", "This token is garbled.") from None
    if version != VERSION or not isinstance(payload, dict):
        raise TokenError("token_invalid", "This token is garbled.")
    return payload


def verify(token: str, signing_secret: str, *, kind: str, now_ms: int | None = None) -> dict:
    """The payload of a genuine, unexpired token of this kind ("room" or "pass"), else TokenError."""
    error = PassError if kind == "pass" else TokenError
    prefix = "pass" if kind == "pass" else "token"
    try:
        payload = peek(token)
    except TokenError:
        raise error(f"{prefix}_invalid", f"This {kind} token is garbled.") from None
    body, _, mac = token.rpartition(".")
    expected = hmac.new(_key(signing_secret), body.encode(), hashlib.sha256).digest()
    try:
        genuine = hmac.compare_digest(_unb64(mac), expected)
    except (ValueError, binascii.Error):
        genuine = False
    if not genuine or payload.get("typ") != kind:
        raise error(f"{prefix}_invalid", f"This {kind} token's signature is not valid.")
    fields = {"p": str, "r": str, "c": str, "exp_ms": int}
    if any(not isinstance(payload.get(name), kind_) or isinstance(payload.get(name), bool)
           for name, kind_ in fields.items()):  # fmt: skip
        raise error(f"{prefix}_invalid", f"This {kind} token lacks a field.")
    if payload["exp_ms"] <= (now_ms if now_ms is not None else int(time.time() * 1000)):
        raise error(f"{prefix}_expired", f"This {kind} token has expired.")
    return payload


def room_token(
    signing_secret: str, *, partner: str, room: str, client_id: str, ttl_seconds: int = 300, now_ms: int | None = None
) -> str:
    """The token you send your visitor to the room with: your namespace, the room (your campaign's slug),
    your own id of the visitor, and an expiry (at most ROOM_TOKEN_MAX_SECONDS away)."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    payload = {"typ": "room", "p": partner, "r": room, "c": client_id, "exp_ms": now + ttl_seconds * 1000}
    return sign(signing_secret, payload)


def pass_verify(
    token: str,
    signing_secret: str,
    *,
    partner: str,
    room: str | None = None,
    client_id: str | None = None,
    now_ms: int | None = None,
) -> Admission:
    """Check a pass offline: signed with your secret, for your namespace, unexpired, and (when given) for
    this room and this visitor of yours. Raises PassError with a `code`. It does not say whether the pass
    was used: your claim call uses it, once."""
    payload = verify(token, signing_secret, kind="pass", now_ms=now_ms)
    if payload["p"] != partner:
        raise PassError("pass_wrong_partner", "This pass was given for another partner.")
    if room is not None and payload["r"] != room:
        raise PassError("pass_wrong_room", "This pass was given for another room.")
    if client_id is not None and payload["c"] != client_id:
        raise PassError("pass_wrong_client", "This pass was given to another visitor.")
    return Admission(partner=payload["p"], room=payload["r"], client_id=payload["c"], expires_ms=payload["exp_ms"])
