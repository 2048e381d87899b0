"""The protected campaign as the waiting room sees it: the one interface between a room and the campaign
behind it, owned by the waiting room.

The waiting room may not import the app above it (DESIGN §2). The app that owns
the campaigns registers a provider here (coupons does, in its
AppConfig.ready) that answers three things: whether the campaign ended and
what can still be claimed (the stock), how many grants wait for delivery
(back-pressure), and, told that the room in front of a campaign changed, makes
the campaign follow (its claims start asking for passes). Without a provider a
room follows no campaign and admits uncapped.

The stock lives in the campaign's gate (coupons, under the hash tag
`{camp:<id>}`), the admission in the room (`{room:<id>}`): on a Redis Cluster
the two sit on different nodes, so no one script can read both.

W6 (admission never exceeds remaining stock − passes outstanding) then rests
on three steps per tick and one report per used pass:

1. the tick reads the room's settle counter (`settle_seq`, the mark);
2. it asks the provider for the remaining stock R;
3. tick.lua drops the `settled` entries numbered up to the mark and admits
   at most R − outstanding, where outstanding = `active` (passes given, not
   used, not expired) + `using` (passes consumed whose claim has not reported
   back) + `settled` (claims that reported back after the mark).

A pass leaves `active` for `using` in the consume script itself, and its
claim calls `pass_settle` once the claim script has taken (or not taken) a
slot, which moves it to `settled` with the next settle number. So every pass
that might still take a slot, or whose slot R may not show yet, is counted:
an entry dropped at step 3 was settled before step 1, so its slot was taken
before R was read at step 2 and R already shows it; a claim that takes its
slot after step 2 reports back after step 1 and is still counted at step 3.
Counting a used pass twice (its slot gone from R and its entry still in
`settled` until the next tick) only delays an admission by a tick. A claim
that fails on our side gives its pass back (`pass_restore`: `using` → `active`).

The one case left is a process that stalls more than `USING_SECONDS` between
consuming a pass and taking its slot: its `using` entry is dropped by then (it
must be, or a crashed claim would hold a place for ever), and it may take one
slot that another pass was counting on. docs/waitingroom.md states it.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class CampaignStock:
    ended: bool  # closed, cancelled or gone: the room closes for good
    remaining: int | None  # slots still claimable; None: no stock to cap admission by (e.g. chosen seats)


class CampaignProvider(Protocol):
    def stock(self, *, campaign_id: int) -> CampaignStock:
        """The campaign now: ended, and its slots left (W6)."""

    def pending_grants(self, *, campaign_id: int) -> int:
        """Grants accepted and not yet delivered (the room holds admission while there are too many)."""

    def room_changed(self, *, campaign_id: int) -> None:
        """The room in front of the campaign was published or changed: the campaign follows it."""


_provider: CampaignProvider | None = None


def provider_register(provider: CampaignProvider | None) -> CampaignProvider | None:
    """Install the provider; returns the one it replaces."""
    global _provider
    previous, _provider = _provider, provider
    return previous


def campaign_stock(*, campaign_id: int) -> CampaignStock | None:
    """The campaign's stock now, or None when no app provides one."""
    return _provider.stock(campaign_id=campaign_id) if _provider is not None else None


def campaign_pending_grants(*, campaign_id: int) -> int:
    return _provider.pending_grants(campaign_id=campaign_id) if _provider is not None else 0


def campaign_room_changed(*, campaign_id: int) -> None:
    if _provider is not None:
        _provider.room_changed(campaign_id=campaign_id)
