"""Access passes: signed at admission, used once by the protected action (W4), reported back (W6)."""

import contextlib
import logging
from dataclasses import dataclass

from django.core import signing
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

from config import clock
from waitingroom import redis as room_redis
from waitingroom.errors import PassInvalid, PassRoomClosed
from waitingroom.models import AccessPassUse

logger = logging.getLogger(__name__)
PASS_SALT = "firstcome.waitingroom.pass"


@dataclass(frozen=True, kw_only=True)
class ConsumedPass:
    room_id: int
    user_id: int
    expiry_ms: int


def pass_issue(*, room_id: int, user_id: int, expiry_ms: int) -> str:
    """A pass signed with the secret key, bound to the room, the user and this admission's expiry."""
    return signing.dumps({"r": room_id, "u": user_id, "x": expiry_ms}, salt=PASS_SALT)


def pass_room(*, token: str, user_id: int) -> int | None:
    """The room a genuine pass of this user was signed for (no Redis, expiry unchecked), else None.

    Lets a protected action use a pass only where its room stands (coupons: a
    pass sent with another campaign's claim is ignored, not consumed).
    """
    try:
        payload = signing.loads(token, salt=PASS_SALT)
        room_id, owner = int(payload["r"]), int(payload["u"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return room_id if owner == user_id else None


def pass_consume(*, token: str, user_id: int, now_ms: int | None = None) -> ConsumedPass:
    """Check the signature and the owner, then use the pass once in Redis (W4).

    The caller then reports back: pass_settle once its claim has taken a slot (or found it
    needs none), pass_restore when it could not use the pass (the user keeps the turn)."""
    try:
        payload = signing.loads(token, salt=PASS_SALT)
        room_id, owner, expiry_ms = int(payload["r"]), int(payload["u"]), int(payload["x"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise PassInvalid(_("This access pass is not valid.")) from exc
    if owner != user_id:
        # Worded as a forgery is: a pass someone else holds must not confirm that it is genuine.
        raise PassInvalid(_("This access pass is not valid."))
    if expiry_ms <= (now_ms if now_ms is not None else clock.now_ms()):
        raise PassInvalid(_("This access pass has expired; join the room again."))
    outcome = room_redis.consume(room_id=room_id, user_id=user_id, expiry_ms=expiry_ms, now_ms=now_ms)
    if outcome == -2:
        raise PassRoomClosed()
    if outcome not in (1, 2):
        raise PassInvalid(_("This access pass was already used or has expired."))
    consumed = ConsumedPass(room_id=room_id, user_id=user_id, expiry_ms=expiry_ms)
    _pass_use_record(consumed)
    return consumed


def _pass_use_record(consumed: ConsumedPass) -> None:
    """Write the use to PostgreSQL before the claim goes on: Redis may forget it (a failover,
    a flush), and only this row then keeps the pass from working twice (W4 under W8).

    Outside a transaction the INSERT commits on its own (one round trip); inside a caller's, a
    savepoint keeps a conflict from breaking it."""
    in_transaction = transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if in_transaction else contextlib.nullcontext():
            AccessPassUse.objects.create(
                room_id=consumed.room_id, user_id=consumed.user_id, expiry_ms=consumed.expiry_ms
            )
    except IntegrityError as exc:
        # Used before, and Redis forgot it (or the room is gone): it stays used, nothing was taken.
        pass_settle(consumed=consumed)
        raise PassInvalid(_("This access pass was already used or has expired.")) from exc
    except DatabaseError:
        pass_restore(consumed=consumed, recorded=False)  # PostgreSQL is away: the user keeps the turn (503)
        raise


def pass_settle(*, consumed: ConsumedPass) -> None:
    """The claim that used this pass has taken its slot, or took none and never will (best effort:
    a lost report only keeps the pass counted against the stock until USING_SECONDS; protected.py)."""
    try:
        room_redis.settle(room_id=consumed.room_id, user_id=consumed.user_id, expiry_ms=consumed.expiry_ms)
    except RedisError as exc:
        logger.warning("could not settle the pass of user %s: %s", consumed.user_id, exc)


def pass_restore(*, consumed: ConsumedPass, recorded: bool = True) -> None:
    """Give the place back after a claim failed on our side (best effort): the pass is unused
    again, in Redis and in PostgreSQL, unless Redis refuses (expired, closed, full, re-queued)."""
    try:
        restored = room_redis.restore(room_id=consumed.room_id, user_id=consumed.user_id, expiry_ms=consumed.expiry_ms)
    except RedisError as exc:
        logger.warning("could not restore the pass of user %s: %s", consumed.user_id, exc)
        return
    if restored and recorded:
        try:
            _pass_use_forget(consumed)
        except DatabaseError as exc:  # the pass stays used after a failover: the user re-joins
            logger.warning("could not give back the pass use of user %s: %s", consumed.user_id, exc)


def _pass_use_forget(consumed: ConsumedPass) -> None:
    """Delete the use's row. The claim that failed may have failed because its connection died (the
    server ended it, a failover): outside a transaction one new connection is worth a try, or the pass
    would stay used in PostgreSQL while Redis gives it back, and the user's next click be refused."""
    use = AccessPassUse.objects.filter(room_id=consumed.room_id, user_id=consumed.user_id, expiry_ms=consumed.expiry_ms)
    try:
        use.delete()
    except (OperationalError, InterfaceError):
        if transaction.get_connection().in_atomic_block:
            raise
        connection.close()  # the next query opens a new connection
        use.delete()
