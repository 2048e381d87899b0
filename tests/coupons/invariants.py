"""Count every row and check DESIGN §7 (I1–I7) for a campaign."""

from django.db import connection
from django.db.models import Count, Sum

from coupons import selectors
from coupons.models import Campaign, Coupon, Grant, LedgerEntry, Wallet


def check_invariants(
    campaign: Campaign,
    *,
    acknowledged: set[str] | None = None,
    drained: bool = True,
    full: bool = False,
) -> dict[str, int]:
    """Assert the invariants; return the counts for the report."""
    counts, violations = invariant_violations(campaign, acknowledged=acknowledged, drained=drained, full=full)
    assert not violations, "; ".join(violations)
    return counts


def invariant_violations(
    campaign: Campaign,
    *,
    acknowledged: set[str] | None = None,
    drained: bool = True,
    full: bool = False,
) -> tuple[dict[str, int], list[str]]:
    """Check every invariant without stopping at the first broken one: (counts, violations)."""
    violations: list[str] = []

    def expect(holds: bool, message: str) -> None:
        if not holds:
            violations.append(message)

    grants = Grant.objects.filter(campaign=campaign)
    live = grants.filter(status__in=Grant.LIVE)
    counts = {s: grants.filter(status=s).count() for s in Grant.Status.values}
    n_live = live.count()

    # I1: never more live grants than slots.
    expect(n_live <= campaign.quantity, f"I1: {n_live} live grants for {campaign.quantity} slots")
    # I2 / I3: no user and no slot twice among live grants.
    expect(not live.values("user_id").annotate(n=Count("id")).filter(n__gt=1).exists(), "I2: a user holds two")
    expect(not live.values("slot").annotate(n=Count("id")).filter(n__gt=1).exists(), "I3: a slot is held twice")
    expect(not live.filter(slot__gt=campaign.quantity).exists(), "slot number above N")
    # I4: every acknowledged claim has its row.
    if acknowledged is not None:
        found = {str(pk) for pk in grants.filter(pk__in=acknowledged).values_list("id", flat=True)}
        missing = acknowledged - found
        expect(not missing, f"I4: {len(missing)} acknowledged claims have no grant row")
    # I5: nothing left pending once faults healed.
    if drained:
        expect(counts["pending"] == 0, f"I5: {counts['pending']} grants still pending")
    # I6: exactly one delivery per succeeded grant, none for failed; balances add up.
    if campaign.kind == Campaign.Kind.CREDIT:
        entries = LedgerEntry.objects.filter(grant__campaign=campaign)
        n_entries = entries.count()
        expect(n_entries == counts["succeeded"], f"I6: {n_entries} ledger entries for {counts['succeeded']} succeeded")
        expect(not entries.exclude(grant__status=Grant.Status.SUCCEEDED).exists(), "I6: a failed grant was paid")
        expect(not entries.exclude(amount=campaign.amount).exists(), "I6: wrong amount")
    else:
        coupons = Coupon.objects.filter(campaign=campaign)
        expect(coupons.count() == counts["succeeded"], "I6: coupons != succeeded grants")
        expect(not coupons.exclude(grant__status=Grant.Status.SUCCEEDED).exists(), "I6: a failed grant got a code")
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM coupons_wallet w WHERE w.balance <> COALESCE(
                   (SELECT sum(e.amount) FROM coupons_ledgerentry e WHERE e.wallet_id = w.id), 0)"""
        )
        expect(cursor.fetchone()[0] == 0, "I6: a wallet balance differs from the sum of its entries")
    total = Wallet.objects.aggregate(s=Sum("balance"))["s"] or 0
    expect(total == (LedgerEntry.objects.aggregate(s=Sum("amount"))["s"] or 0), "I6: balances != sum of entries")
    # I7: with enough demand and only transient failures, exactly N succeed.
    if full:
        expect(counts["succeeded"] == campaign.quantity, f"I7: {counts['succeeded']} succeeded of {campaign.quantity}")
    # The gate agrees with the database once everything settled.
    if drained:
        remaining = selectors.campaign_remaining(campaign=campaign)
        expect(remaining == campaign.quantity - n_live, f"gate drifted: {remaining} remaining, {n_live} live")
    return {**counts, "live": n_live}, violations


def check_claim_answers(results, *, slots: int) -> dict:
    """What a spike's clients heard (tests/load.py results, `tag` = user id), checked: only 200, 202
    and 409 sold_out; exactly `slots` accepted, one per user, on distinct slots; every repeat (200)
    names its user's grant. Returns user id -> grant id of the accepted claims."""
    from collections import Counter, defaultdict

    statuses = Counter(r.status for r in results)
    assert set(statuses) <= {200, 202, 409}, f"unexpected statuses {statuses}"
    accepted = [r for r in results if r.status == 202]
    assert len(accepted) == slots, f"{len(accepted)} accepted for {slots} slots"
    assert all(r.body["code"] == "sold_out" for r in results if r.status == 409)
    grant_of_user: dict = {}
    for r in accepted:
        assert r.call.tag not in grant_of_user, "a user was accepted twice"
        grant_of_user[r.call.tag] = r.body["grant_id"]
    repeats = defaultdict(set)
    for r in results:
        if r.status == 200:
            repeats[r.call.tag].add(r.body["grant_id"])
    assert all(grants == {grant_of_user[user]} for user, grants in repeats.items()), "a repeat named another grant"
    assert len({r.body["slot"] for r in accepted}) == slots, "a slot was given twice"
    return grant_of_user
