"""What a grant gave its user, in words and with where to find it ("10 KRW added to your wallet")."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from coupons.models import Campaign, Grant
from coupons.templatetags.money import krw


@dataclass(frozen=True, kw_only=True)
class GrantSummary:
    text: str
    url: str | None  # where the thing granted is shown (the wallet, the coupon, the seat); None while pending or failed
    seat_label: str | None = None
    coupon_code: str | None = None


def grant_summary(grant: Grant) -> GrantSummary:
    """Load the grant with select_related("campaign", "seat", "coupon") (coupons.selectors does)."""
    amount = krw(grant.amount)
    seat = getattr(grant, "seat", None) if grant.campaign.allocation == Campaign.Allocation.CHOSEN else None
    coupon = getattr(grant, "coupon", None) if grant.campaign.kind == Campaign.Kind.COUPON else None
    mine = reverse("my-grants")
    if grant.status == Grant.Status.FAILED:
        text = _("This claim failed and nothing was given; you may claim again while stock remains.")
        return GrantSummary(text=text, url=None)
    if seat is not None:
        text = _("Seat %(label)s, %(price)s paid") % {"label": seat.label, "price": amount}
        url = reverse("campaign-detail", args=[grant.campaign.slug])  # the map shows it as theirs
        return GrantSummary(text=text, url=url, seat_label=seat.label)
    if grant.campaign.kind == Campaign.Kind.COUPON:
        if grant.status == Grant.Status.SUCCEEDED and coupon is not None:
            text = _("Your coupon code: %(code)s (%(amount)s off)") % {"code": coupon.code, "amount": amount}
            return GrantSummary(text=text, url=f"{mine}#coupons", coupon_code=coupon.code)
        return GrantSummary(text=_("Your coupon for %(amount)s off is being issued.") % {"amount": amount}, url=None)
    if grant.status == Grant.Status.SUCCEEDED:
        return GrantSummary(text=_("%(amount)s added to your wallet") % {"amount": amount}, url=f"{mine}#wallet")
    return GrantSummary(text=_("%(amount)s is on its way to your wallet.") % {"amount": amount}, url=None)
