from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts import selectors, services
from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "is_staff", "is_active", "date_joined")
    readonly_fields = ("api_token_generation",)
    fieldsets = (*BaseUserAdmin.fieldsets, ("API tokens", {"fields": ("api_token_generation",)}))
    actions = ["revoke_tokens"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            if obj.is_active:
                selectors.api_token_generation_reset(user_id=obj.pk)
            else:
                services.api_token_revoke(user=obj)

    @admin.action(description=_("Revoke API tokens of the selected users"), permissions=["change"])
    def revoke_tokens(self, request, queryset):
        for user in queryset:
            services.api_token_revoke(user=user)
        self.message_user(request, _("Revoked the tokens of %(count)d user(s).") % {"count": queryset.count()})
