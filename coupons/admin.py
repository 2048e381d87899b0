"""Admin for campaigns (live counts and event actions), grants, wallets, ledger and coupons."""

from django import forms
from django.contrib import admin, messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils.dateformat import format as date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from config.admin import RateLimitFieldsAdmin, apply_each
from config.errors import ApplicationError
from coupons import selectors
from coupons.models import Campaign, Coupon, ExternalClient, Grant, LedgerEntry, Seat, Wallet
from coupons.seats.services import seat_map_generate
from coupons.services.campaigns import campaign_cancel, campaign_close, campaign_open_now, campaign_publish
from coupons.services.gate import campaign_gate_publish
from coupons.services.grants import grant_redrive
from coupons.services.reconcile import campaign_reconcile

TERMS = ("kind", "allocation", "quantity", "amount", "coupon_valid_days", "opens_at", "closes_at")


def _short_time(moment) -> str:
    """A list's date and time on the site's clock, short: "12-24 20:00", with the year when it is not this one."""
    local = localtime(moment)
    return date_format(local, "m-d H:i" if local.year == localtime().year else "Y-m-d H:i")


class SeatMapForm(forms.Form):
    rows = forms.CharField(initial="A-C:50000, D-F:30000", help_text="Row ranges with their price in KRW.")
    seats_per_row = forms.IntegerField(min_value=1, max_value=200, initial=20)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money and grants change only through services, never by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(RateLimitFieldsAdmin):
    # Readable at 1366 px beside the filters: numbers with separators on the right, the grants'
    # three counts in one column, dates in short form (static/css/admin.css keeps titles wide).
    list_display = ("title", "status", "kind", "slots", "claimed", "grants", "remaining", "opens", "closes")
    list_filter = ("status", "kind", "allocation", "namespace", "unlisted")
    search_fields = ("slug", "title")
    prepopulated_fields = {"slug": ("title",)}
    date_hierarchy = "opens_at"
    actions = ["publish", "open_now", "close", "cancel", "reconcile", "redrive_stuck", "generate_seats"]
    readonly_fields = (
        "namespace",
        "status",
        "published_at",
        "sold_out_at",
        "gate_retired_at",
        "created_at",
        "updated_at",
        "live_counts",
    )

    def get_queryset(self, request):
        live = Q(grants__status__in=Grant.LIVE)
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_claimed=Count("grants", filter=live),
                n_pending=Count("grants", filter=Q(grants__status=Grant.Status.PENDING)),
                n_succeeded=Count("grants", filter=Q(grants__status=Grant.Status.SUCCEEDED)),
                n_failed=Count("grants", filter=Q(grants__status=Grant.Status.FAILED)),
            )
        )

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.is_published:
            return (*fields, "slug", *TERMS)  # terms are frozen once published
        return fields

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None and obj.is_published else self.prepopulated_fields

    def has_delete_permission(self, request, obj=None):
        # Only drafts go, and only for staff holding the delete permission.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.status == Campaign.Status.DRAFT)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        campaign_gate_publish(campaign=obj)  # new rate limits apply from the next claim

    class Media:
        css = {"all": ("css/admin.css",)}

    @admin.display(description=_("slots"), ordering="quantity")
    def slots(self, obj):
        return intcomma(obj.quantity)

    @admin.display(description=_("claimed"), ordering="n_claimed")
    def claimed(self, obj):
        return intcomma(obj.n_claimed)

    @admin.display(description=_("grants: pending / succeeded / failed"))
    def grants(self, obj):
        return " / ".join(intcomma(n) for n in (obj.n_pending, obj.n_succeeded, obj.n_failed))

    @admin.display(description=_("remaining"))
    def remaining(self, obj):
        remaining = selectors.campaign_remaining(campaign=obj)
        return "-" if remaining is None else intcomma(remaining)

    @admin.display(description=_("opens"), ordering="opens_at")
    def opens(self, obj):
        return _short_time(obj.opens_at)

    @admin.display(description=_("closes"), ordering="closes_at")
    def closes(self, obj):
        return _short_time(obj.closes_at)

    @admin.display(description=_("live counts"))
    def live_counts(self, obj):
        if obj.pk is None:
            return "-"
        counts = selectors.grant_counts(campaign=obj)
        return _(
            "claimed %(live)d · pending %(pending)d · succeeded %(succeeded)d · failed %(failed)d · "
            "remaining %(remaining)s"
        ) % {
            "live": counts.live,
            "pending": counts.pending,
            "succeeded": counts.succeeded,
            "failed": counts.failed,
            "remaining": selectors.campaign_remaining(campaign=obj),
        }

    @admin.action(description=_("Publish (freeze terms, open at opens_at)"), permissions=["change"])
    def publish(self, request, queryset):
        apply_each(self, request, queryset, lambda c: campaign_publish(campaign=c), _("Published"))

    @admin.action(description=_("Open now"), permissions=["change"])
    def open_now(self, request, queryset):
        apply_each(self, request, queryset, lambda c: campaign_open_now(campaign=c), _("Opened"))

    @admin.action(description=_("Close (stop claims now)"), permissions=["change"])
    def close(self, request, queryset):
        apply_each(self, request, queryset, lambda c: campaign_close(campaign=c), _("Closed"))

    @admin.action(description=_("Cancel"), permissions=["change"])
    def cancel(self, request, queryset):
        apply_each(self, request, queryset, lambda c: campaign_cancel(campaign=c), _("Cancelled"))

    @admin.action(description=_("Reconcile Redis with the database"), permissions=["change"])
    def reconcile(self, request, queryset):
        for campaign in queryset.filter(status__in=Campaign.PUBLISHED):
            report = campaign_reconcile(campaign=campaign, fix=True)
            level = messages.WARNING if report.drifted else messages.SUCCESS
            self.message_user(
                request,
                _(
                    "%(slug)s: %(outcome)s (gate missing: %(gate_missing)s, missing in Redis: %(missing)d, "
                    "unknown in Redis: %(unknown)d)"
                )
                % {
                    "slug": campaign.slug,
                    "outcome": _("drift fixed") if report.drifted else _("no drift"),
                    "gate_missing": _("yes") if report.gate_missing else _("no"),
                    "missing": len(report.missing_in_redis),
                    "unknown": len(report.unknown_in_redis),
                },
                level,
            )

    @admin.action(description=_("Generate a seat map (draft campaigns)"), permissions=["change"])
    def generate_seats(self, request, queryset):
        """Rows × seats with a price per row range, e.g. rows "A-C:50000, D-F:30000", 20 seats a row."""
        form = SeatMapForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for campaign in queryset:
                try:
                    count = seat_map_generate(
                        campaign=campaign,
                        rows=form.cleaned_data["rows"],
                        seats_per_row=form.cleaned_data["seats_per_row"],
                    )
                    self.message_user(
                        request,
                        _("%(slug)s: %(count)d seats.") % {"slug": campaign.slug, "count": count},
                        messages.SUCCESS,
                    )
                except ApplicationError as error:
                    self.message_user(request, f"{campaign.slug}: {error.detail}", messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Generate a seat map"),
            "form": form,
            "campaigns": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/coupons/seat_map_form.html", context)

    @admin.action(description=_("Re-drive stuck pending grants"), permissions=["change"])
    def redrive_stuck(self, request, queryset):
        ids = Grant.objects.filter(campaign__in=queryset, status=Grant.Status.PENDING).values_list("id", flat=True)
        count = grant_redrive(grant_ids=[str(i) for i in ids])
        self.message_user(request, _("Re-enqueued %(count)d pending grant(s).") % {"count": count}, messages.SUCCESS)


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ("id", "campaign", "user", "slot", "amount", "status", "attempts", "created_at", "completed_at")
    list_filter = ("status", "campaign")
    search_fields = ("=id", "user__username", "campaign__slug")
    list_select_related = ("campaign", "user", "seat")
    readonly_fields = ("amount",)
    date_hierarchy = "created_at"
    actions = ["redrive"]

    @admin.display(description=_("amount"))
    def amount(self, grant: Grant) -> int:
        """What the user received or paid (a seat: its price, not the campaign's lowest)."""
        return grant.amount

    def has_redrive_permission(self, request) -> bool:
        # Grants are read-only in the admin, so the action cannot ask for "change"
        # here; re-driving needs the model permission all the same.
        return request.user.has_perm("coupons.change_grant")

    @admin.action(description=_("Re-drive the selected pending grants"), permissions=["redrive"])
    def redrive(self, request, queryset):
        ids = queryset.filter(status=Grant.Status.PENDING).values_list("id", flat=True)
        count = grant_redrive(grant_ids=[str(i) for i in ids])
        self.message_user(request, _("Re-enqueued %(count)d pending grant(s).") % {"count": count}, messages.SUCCESS)


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ("user", "balance", "updated_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("reference", "wallet", "amount", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("reference", "wallet__user__username")
    list_select_related = ("wallet__user",)


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    list_display = ("code", "campaign", "user", "discount", "expires_at", "redeemed_at")
    list_filter = ("campaign",)
    search_fields = ("code", "user__username")
    list_select_related = ("campaign", "user")


@admin.register(Seat)
class SeatAdmin(admin.ModelAdmin):
    """Prices are editable while the campaign is a draft; a database trigger freezes them after."""

    list_display = ("label", "campaign", "section", "row", "number", "price", "status", "sold_to", "fence_token")
    list_filter = ("campaign", "section", "status")
    search_fields = ("label", "campaign__slug", "sold_to__username")
    list_select_related = ("campaign", "sold_to")
    readonly_fields = ("campaign", "slot", "label", "status", "fence_token", "sold_to", "sold_at", "grant")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.campaign.is_published:
            return (*fields, "price", "section", "row", "number")
        return fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ExternalClient)
class ExternalClientAdmin(ReadOnlyAdmin):
    """Users of other systems (a partner's clients): each is a shadow user whose grants are ordinary grants."""

    list_display = ("namespace", "client_id", "user", "created_at")
    list_filter = ("namespace",)
    search_fields = ("=client_id", "user__username")
    list_select_related = ("user",)
