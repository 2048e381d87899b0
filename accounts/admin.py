from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Deleting, deactivating a user or setting their password revokes their tokens (accounts/signals.py)."""

    list_display = ("username", "email", "is_staff", "is_active", "date_joined")
    readonly_fields = ("api_token_generation",)
    fieldsets = (*BaseUserAdmin.fieldsets, ("API tokens", {"fields": ("api_token_generation",)}))
    actions = ["revoke_tokens"]

    @admin.action(description=_("Revoke API tokens of the selected users"), permissions=["change"])
    def revoke_tokens(self, request, queryset):
        for user in queryset:
            services.api_token_revoke(user=user)
        self.message_user(request, _("Revoked the tokens of %(count)d user(s).") % {"count": queryset.count()})
