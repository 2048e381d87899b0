"""The live operations dashboard in the admin: one campaign (and its room) at a time, charts
that move every second, and the actions staff need during a drop."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import site
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from config import clock
from config.errors import ApplicationError
from coupons.models import Campaign
from coupons.services.campaigns import campaign_close
from coupons.services.reconcile import campaign_reconcile
from operations import live
from waitingroom import selectors as room_selectors
from waitingroom.services.rooms import room_pause, room_resume, room_settings_change


class RateForm(forms.Form):
    admit_rate = forms.IntegerField(min_value=1, max_value=100_000)


def _chosen(request: HttpRequest, campaigns: list[Campaign]) -> tuple[Campaign | None, bool]:
    """The campaign asked for, or (following: True) the newest live one, which the page moves to
    when a newer one goes live (live.newest_live_id)."""
    wanted = request.GET.get("campaign", "")
    for campaign in campaigns:
        if str(campaign.pk) == wanted:
            return campaign, False
    newest = live.newest_live(campaigns)
    return (newest or (campaigns[0] if campaigns else None)), True


@staff_member_required
@never_cache
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("coupons.view_campaign"):
        raise PermissionDenied
    campaigns = live.campaigns_recent()
    chosen, following = _chosen(request, campaigns)
    context = {
        **site.each_context(request),
        "title": _("Live dashboard"),
        "campaigns": campaigns,
        "chosen": chosen,
        "following": following,
        "time_zone": settings.TIME_ZONE,
        "room": room_selectors.room_for_campaign(campaign_id=chosen.pk) if chosen else None,
        "can_change_campaign": request.user.has_perm("coupons.change_campaign"),
        "can_change_room": request.user.has_perm("waitingroom.change_waitingroom"),
        "live_url": reverse("dashboard-live", args=[chosen.pk]) if chosen else "",
        "labels": {
            "accepted": _("accepted"),
            "duplicate": _("duplicate"),
            "sold_out": _("sold out"),
            "rate_limited": _("rate limited"),
            "other": _("other"),
            "pending": _("pending"),
            "succeeded": _("succeeded"),
            "failed": _("failed"),
            "remaining": _("remaining"),
            "queued": _("queued"),
            "active": _("active"),
            "admissions": _("admissions/s"),
            "updated": _("updated"),
            "newer": _("A newer campaign went live: showing it."),
            "unavailable": _("numbers unavailable; retrying"),
        },
    }
    return render(request, "operations/dashboard.html", context)


@staff_member_required
@never_cache
@require_GET
def campaign_live(request: HttpRequest, campaign_id: int) -> JsonResponse:
    """The chosen campaign's numbers now; the page turns successive ones into rates."""
    if not request.user.has_perm("coupons.view_campaign"):
        raise PermissionDenied
    campaign = live.campaign_get(campaign_id=campaign_id)
    (numbers,) = live.campaigns_live([campaign])
    newest = live.newest_live(live.campaigns_recent())
    body = {"at_ms": clock.now_ms(), "newest_live_id": newest.pk if newest else None, **numbers.as_dict()}
    return JsonResponse(body)


CAMPAIGN_ACTIONS = {
    "close": (lambda campaign: campaign_close(campaign=campaign), gettext_lazy("Closed")),
    "reconcile": (
        lambda campaign: campaign_reconcile(campaign=campaign, fix=True),
        gettext_lazy("Reconciled"),
    ),
}


def _back(campaign_id: int) -> HttpResponse:
    return redirect(f"{reverse('dashboard')}?campaign={campaign_id}")


@staff_member_required
@require_POST
def campaign_action(request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
    if not request.user.has_perm("coupons.change_campaign") or action not in CAMPAIGN_ACTIONS:
        raise PermissionDenied
    campaign = live.campaign_get(campaign_id=campaign_id)
    run, done = CAMPAIGN_ACTIONS[action]
    try:
        result = run(campaign)
    except ApplicationError as error:
        messages.warning(request, f"{campaign.slug}: {error.detail}")
    else:
        drift = getattr(result, "drifted", None)
        suffix = "" if drift is None else (" — " + (_("drift fixed") if drift else _("no drift")))
        messages.success(request, f"{campaign.slug}: {done}{suffix}")
    return _back(campaign_id)


@staff_member_required
@require_POST
def room_action(request: HttpRequest, room_id: int, action: str) -> HttpResponse:
    if not request.user.has_perm("waitingroom.change_waitingroom"):
        raise PermissionDenied
    room = live.room_get(room_id=room_id)
    try:
        if action == "pause":
            room_pause(room=room)
            messages.success(request, _("Admission paused."))
        elif action == "resume":
            room_resume(room=room)
            messages.success(request, _("Admission resumed."))
        elif action == "rate":
            form = RateForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("The admission rate must be a whole number from 1 to 100,000."))
            else:
                rate = form.cleaned_data["admit_rate"]
                room_settings_change(room=room, admit_rate=rate)
                messages.success(request, _("Admission rate set to %(rate)d a second.") % {"rate": rate})
        else:
            raise PermissionDenied
    except ApplicationError as error:
        messages.warning(request, f"{room.slug}: {error.detail}")
    return _back(room.campaign_id) if room.campaign_id else redirect("dashboard")
