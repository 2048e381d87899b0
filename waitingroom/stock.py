"""The protected campaign as the waiting room sees it: whether it ended and what can still be claimed.

The stock lives in the campaign's gate (coupons, under the hash tag
`{camp:<id>}`), the admission in the room (`{room:<id>}`): on a Redis Cluster
the two sit on different nodes, so no one script can read both, and the
waiting room may not import the app above it (DESIGN §2). The app that owns
the campaigns registers a provider here (coupons does, in its
AppConfig.ready); without one a room follows no campaign and admits
uncapped.

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

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CampaignStock:
    ended: bool  # closed, cancelled or gone: the room closes for good
    remaining: int | None  # slots still claimable; None: no stock to cap admission by (e.g. chosen seats)


StockProvider = Callable[[int], CampaignStock]
_provider: StockProvider | None = None


def stock_provider_register(provider: StockProvider | None) -> StockProvider | None:
    """Install the provider (campaign id → CampaignStock); returns the one it replaces."""
    global _provider
    previous, _provider = _provider, provider
    return previous


def campaign_stock(*, campaign_id: int) -> CampaignStock | None:
    """The campaign's stock now, or None when no app provides one."""
    return _provider(campaign_id) if _provider is not None else None
