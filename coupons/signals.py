"""What coupons tells the apps above it, which it never imports (DESIGN §2): sent inside the
transaction that made the change, so a receiver's own rows commit or roll back with it."""

from django.dispatch import Signal

# Grants settled (pending → succeeded or failed). Keyword arguments: campaign (Campaign),
# succeeded (list[Grant]), failed (list[Grant]).
grants_settled = Signal()

# A campaign stopped taking claims. Keyword arguments: campaign_id (int), status
# ("sold_out", "closed" or "cancelled").
campaign_ended = Signal()

# Campaign rows changed through a bulk update (a save or delete sends Django's own post_save/post_delete).
# No arguments. Sent inside the transaction that made the change.
campaign_rows_changed = Signal()
