"""Admin for partners and their API keys: a key is shown once, revoked for good, rotated with an overlap."""

from django.contrib import admin, messages
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import APIKey

from partners.models import Partner, PartnerAPIKey, WebhookDelivery
from partners.services.keys import key_last_used, partner_key_revoke, partner_key_rotate
from partners.services.webhooks import webhook_replay


class PartnerAPIKeyInline(admin.TabularInline):
    model = PartnerAPIKey
    fields = ("name", "prefix", "created", "expiry_date", "revoked")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # keys are made on their own page, where the new key is shown once


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "namespace", "created_at")
    search_fields = ("name", "namespace")
    readonly_fields = ("signing_secret", "created_at")
    inlines = [PartnerAPIKeyInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a webhook URL typed without one

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "namespace") if obj is not None else fields  # its campaigns and clients live under it

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is None or not self.has_change_permission(request, obj):
            # The secret signs what the partner trusts: staff who may only view partners never see it.
            return [name for name in fields if name != "signing_secret"]
        return fields


def _show_once(model_admin, request, key: PartnerAPIKey, plain: str) -> None:
    model_admin.message_user(
        request,
        _("The API key of %(partner)s (%(name)s) is: %(key)s. Store it now: it will not be shown again.")
        % {"partner": key.partner, "name": key.name, "key": plain},
        messages.WARNING,
    )


@admin.register(PartnerAPIKey)
class PartnerAPIKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "partner", "prefix", "created", "expiry_date", "revoked", "last_used")
    list_filter = ("partner", "revoked")
    search_fields = ("name", "prefix", "partner__name")
    list_select_related = ("partner",)
    actions = ["revoke", "rotate"]

    def get_readonly_fields(self, request, obj=None):
        fields = ("prefix", "created", "last_used")
        if obj is None:
            return fields
        return (*fields, "partner", "revoked") if obj.revoked else (*fields, "partner")

    def get_fields(self, request, obj=None):
        fields = ["partner", "name", "expiry_date", "rate_burst", "rate_per_second"]
        return fields if obj is None else [*fields, "revoked", "prefix", "created", "last_used"]

    @admin.display(description=_("last used"))
    def last_used(self, key: PartnerAPIKey):
        return key_last_used(key=key) if key.pk else None

    def save_model(self, request, obj: PartnerAPIKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        plain = PartnerAPIKey.objects.assign_key(obj)
        obj.save()
        _show_once(self, request, obj, plain)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row keeps the key's history

    @admin.action(description=_("Revoke the selected keys (for good)"), permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset:
            partner_key_revoke(key=key)
        self.message_user(request, _("%(count)d keys revoked.") % {"count": queryset.count()}, messages.SUCCESS)

    @admin.action(description=_("Rotate the selected keys (the old ones keep working for the overlap)"),
                  permissions=["change"])  # fmt: skip
    def rotate(self, request, queryset):
        for key in queryset.filter(revoked=False):
            new_key, plain = partner_key_rotate(key=key)
            _show_once(self, request, new_key, plain)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Each outcome event sent to a partner: its attempts, status and next try; failed ones may be replayed."""

    list_display = (
        "event_type",
        "partner",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    )
    list_filter = ("status", "event_type", "partner")
    search_fields = ("=id", "event_type")
    list_select_related = ("partner",)
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Replay the selected deliveries (same event id)"), permissions=["replay"])
    def replay(self, request, queryset):
        for delivery in queryset:
            webhook_replay(delivery=delivery)
        self.message_user(
            request, _("%(count)d deliveries will be sent again.") % {"count": queryset.count()}, messages.SUCCESS
        )

    def has_replay_permission(self, request) -> bool:
        """Replaying changes a delivery's state: staff who may change deliveries (the superuser)."""
        return request.user.has_perm("partners.change_webhookdelivery")


# djangorestframework-api-key registers its own APIKey model; firstcome's keys are PartnerAPIKey.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)
