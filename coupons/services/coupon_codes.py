"""Coupon codes: issued for a coupon campaign's grant, redeemed once by their owner."""

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from coupons.errors import CouponAlreadyRedeemed, CouponExpired, CouponNotFound, TransientTransferError
from coupons.locks import coupon_lock
from coupons.models import Campaign, Coupon, Grant

COUPON_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def coupon_code_new() -> str:
    raw = "".join(secrets.choice(COUPON_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def coupon_issue(*, grant: Grant, campaign: Campaign) -> None:
    """The grant's coupon, with a fresh random code (drawn again on the rare collision)."""
    expires_at = timezone.now() + timedelta(days=campaign.coupon_valid_days)
    for _ in range(5):
        try:
            with transaction.atomic():
                Coupon.objects.create(
                    grant=grant,
                    campaign=campaign,
                    user_id=grant.user_id,
                    code=coupon_code_new(),
                    discount=campaign.amount,
                    expires_at=expires_at,
                )
            return
        except IntegrityError:
            if Coupon.objects.filter(grant=grant).exists():
                raise
    raise TransientTransferError("could not find a free coupon code")


def coupon_redeem(*, code: str, user_id: int) -> Coupon:
    """Mark the user's coupon used; works once."""
    with transaction.atomic():
        coupon = coupon_lock(code=code.strip().upper(), user_id=user_id)
        if coupon is None:
            raise CouponNotFound()
        if coupon.redeemed_at is not None:
            raise CouponAlreadyRedeemed()
        now = timezone.now()
        if coupon.expires_at <= now:
            raise CouponExpired()
        coupon.redeemed_at = now
        coupon.save(update_fields=["redeemed_at"])
    return coupon
