"""What coupons provides to the apps below it, which know it only through these (DESIGN §2).

CouponsConfig.ready registers them: the campaign behind a waiting room
(waitingroom/protected.py) and the ranking source (ranking/feed.py,
coupons/services/rankings.py).
"""

from coupons import selectors
from coupons.services.gate import campaign_gate_room_set
from waitingroom.protected import CampaignStock


class RoomCampaigns:
    """The campaign behind a waiting room, as the room asks for it."""

    def stock(self, *, campaign_id: int) -> CampaignStock:
        # The waiting room caps admission by what its campaign can still give (W6).
        return selectors.campaign_stock_for_room(campaign_id=campaign_id)

    def pending_grants(self, *, campaign_id: int) -> int:
        return selectors.campaign_pending_grants(campaign_id=campaign_id)

    def room_changed(self, *, campaign_id: int) -> None:
        campaign_gate_room_set(campaign_id=campaign_id)
