"""A partner's visitors in its waiting room: the room token in, the signed pass out, the pass into the claim.

The visitor has no firstcome account: the room treats them as the partner's client
(`coupons.ExternalClient`, namespaced by partner), so their place, heartbeat and
pass are a user's, and the claim that uses the pass is the partner's claim for
that client. Tokens and passes are signed with the partner's signing secret by
partners/client/firstcome_partner.py, the file partners copy to verify passes offline.
"""

import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core import signing
from django.utils.translation import gettext_lazy as _

from config import clock
from coupons.services.external_clients import external_client_user_id
from partners.client import firstcome_partner as tokens
from partners.errors import PassRefused, TokenRefused, VisitorUnknown
from partners.models import Partner, PartnerRoom
from partners.services.campaigns import campaign_slug_stored
from waitingroom import selectors as room_selectors
from waitingroom.errors import RoomNotFound
from waitingroom.models import WaitingRoom
from waitingroom.services.passes import pass_issue
from waitingroom.services.queue import room_join

VISITOR_SALT = "firstcome.partners.visitor"
PASS_PARAMETER = "firstcome_pass"  # the query parameter the pass travels back in
_CLIENT_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")
# A partner's secret never changes (it is not editable), so a process keeps it a minute.
_SECRET_SECONDS = 60.0
_secrets: dict[str, tuple[float, str | None]] = {}


def partner_secret(*, namespace: str) -> str | None:
    cached = _secrets.get(namespace)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    secret = Partner.objects.filter(namespace=namespace).values_list("signing_secret", flat=True).first()
    _secrets[namespace] = (time.monotonic() + _SECRET_SECONDS, secret)
    return secret


def partner_secrets_forget() -> None:
    """Drop this process's memo (tests: each test's partners are new rows with new secrets)."""
    _secrets.clear()


# The shipped file speaks English only; the visitor and the partner hear these, in their language.
REFUSALS = {
    "token_invalid": _("This room token is not valid (garbled, or its signature is wrong)."),
    "token_expired": _("This room token has expired: go back to the site that sent you here."),
    "pass_invalid": _("This access pass is not valid (garbled, or its signature is wrong)."),
    "pass_expired": _("This access pass has expired: send the visitor through the room again."),
    "pass_wrong_partner": _("This access pass was given for another partner."),
    "pass_wrong_room": _("This access pass was given for another room."),
    "pass_wrong_client": _("This access pass was given to another visitor."),
}


@dataclass(frozen=True, kw_only=True)
class Visitor:
    room: WaitingRoom
    namespace: str
    slug: str  # the room as the partner names it: its campaign's slug
    client_id: str
    user_id: int


def visitor_room_get(*, namespace: str, slug: str) -> WaitingRoom:
    """The partner's room in front of its campaign `slug` (404 for anyone else's, or none)."""
    room = room_selectors.room_get(slug=campaign_slug_stored(namespace=namespace, slug=slug))
    if room.namespace != namespace:
        raise RoomNotFound()
    return room


def _room_token_read(*, namespace: str, slug: str, token: str, now_ms: int) -> str:
    """The client id of a genuine, unexpired room token of this partner for this room."""
    try:
        claimed = tokens.peek(token)
    except tokens.TokenError as error:
        raise TokenRefused.because(error.code, REFUSALS[error.code]) from None
    if claimed.get("p") != namespace:
        raise TokenRefused.because("token_wrong_partner", _("This room token was signed for another partner."))
    secret = partner_secret(namespace=namespace)
    if secret is None:
        raise RoomNotFound()
    try:
        payload = tokens.verify(token, secret, kind="room", now_ms=now_ms)
    except tokens.TokenError as error:
        raise TokenRefused.because(error.code, REFUSALS[error.code]) from None
    if payload["exp_ms"] > now_ms + tokens.ROOM_TOKEN_MAX_SECONDS * 1000:
        raise TokenRefused.because("token_invalid", _("This room token lives too long (10 minutes at most)."))
    if payload["r"] != slug:
        raise TokenRefused.because("token_wrong_room", _("This room token was signed for another room."))
    if not _CLIENT_ID.fullmatch(payload["c"]):
        raise TokenRefused.because("token_invalid", _("The client id is 1-128 characters, no control characters."))
    return payload["c"]


def visitor_enter(
    *, namespace: str, slug: str, token: str, client_ip: str | None, now_ms: int | None = None
) -> Visitor:
    """A visitor the partner sent with a room token joins the room as the partner's client (idempotent:
    the same token again keeps the place). A refused token changes nothing."""
    now = now_ms if now_ms is not None else clock.now_ms()
    client_id = _room_token_read(namespace=namespace, slug=slug, token=token, now_ms=now)
    room = visitor_room_get(namespace=namespace, slug=slug)
    user_id = external_client_user_id(namespace=namespace, client_id=client_id)
    room_join(room_id=room.pk, user_id=user_id, client_ip=client_ip, now_ms=now_ms)
    return Visitor(room=room, namespace=namespace, slug=slug, client_id=client_id, user_id=user_id)


def visitor_cookie_name(room: WaitingRoom) -> str:
    return f"fc_visitor_{room.pk}"


def visitor_cookie_value(visitor: Visitor) -> str:
    return signing.dumps({"r": visitor.room.pk, "u": visitor.user_id, "c": visitor.client_id}, salt=VISITOR_SALT)


def visitor_from_cookie(*, namespace: str, slug: str, value: str | None) -> Visitor:
    """The visitor this browser entered the room as (VisitorUnknown when it never did)."""
    room = visitor_room_get(namespace=namespace, slug=slug)
    try:
        payload = signing.loads(value or "", salt=VISITOR_SALT)
        if int(payload["r"]) != room.pk:
            raise VisitorUnknown()
        user_id, client_id = int(payload["u"]), str(payload["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise VisitorUnknown() from None
    return Visitor(room=room, namespace=namespace, slug=slug, client_id=client_id, user_id=user_id)


def visitor_return_url(*, visitor: Visitor, expiry_ms: int) -> str:
    """Where the admitted visitor goes: the room's (or the partner's) registered return URL, never one a
    request names, with the pass signed by the partner's secret in `firstcome_pass`."""
    registered = (
        PartnerRoom.objects.filter(room_id=visitor.room.pk).values_list("return_url", "partner__return_url").first()
    )
    url = (registered[0] or registered[1]) if registered else ""
    if urlsplit(url).scheme not in ("http", "https"):  # none, or one staff typed as ftp://
        raise RoomNotFound(_("This room has no return URL registered."))
    secret = partner_secret(namespace=visitor.namespace)
    signed = tokens.sign(
        secret,
        {"typ": "pass", "p": visitor.namespace, "r": visitor.slug, "c": visitor.client_id, "exp_ms": expiry_ms,
         "k": visitor.room.pk},
    )  # fmt: skip
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), (PASS_PARAMETER, signed)])
    return urlunsplit(parts._replace(query=query))


@dataclass(frozen=True, kw_only=True)
class PartnerPass:
    room_id: int
    expiry_ms: int

    def internal(self, *, user_id: int) -> str:
        """The room's own pass for the same admission: the claim uses it once, as a user's pass (W4)."""
        return pass_issue(room_id=self.room_id, user_id=user_id, expiry_ms=self.expiry_ms)


def partner_pass_check(*, namespace: str, slug: str, client_id: str, token: str) -> PartnerPass:
    """A partner's pass sent with a claim, checked (signature, partner, room, client, expiry) before
    anything is spent or made; whether it was used is the claim's to find out."""
    try:
        claimed = tokens.peek(token)
    except tokens.TokenError:
        raise PassRefused.because("pass_invalid", REFUSALS["pass_invalid"]) from None
    if claimed.get("p") != namespace:
        raise PassRefused.because("pass_wrong_partner", REFUSALS["pass_wrong_partner"])
    try:
        admission = tokens.pass_verify(
            token,
            partner_secret(namespace=namespace) or "",
            partner=namespace,
            room=slug,
            client_id=client_id,
            now_ms=clock.now_ms(),
        )
        room_id = int(claimed["k"])
    except tokens.TokenError as error:
        raise PassRefused.because(error.code, REFUSALS[error.code]) from None
    except (KeyError, TypeError, ValueError):
        raise PassRefused.because("pass_invalid", REFUSALS["pass_invalid"]) from None
    return PartnerPass(room_id=room_id, expiry_ms=admission.expires_ms)
