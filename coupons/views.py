"""Pages: the campaign list, a campaign with its claim button, my grants and wallet."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from config.clientip import client_ip
from config.errors import ApplicationError
from config.shared_pages import PERSONAL_PARAMETER, shared_page, shared_render, unshare
from coupons import me, published, selectors
from coupons.grant_words import grant_summary
from coupons.seats.selectors import seat_layout, seat_map
from coupons.services.claims import claim_create


@shared_page
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = published.campaigns_listed(limit=60)
    now = timezone.now()
    for campaign in campaigns:
        campaign.opened = campaign.opens_at <= now  # "opened 12/05" for the past, "opens" ahead
        campaign.shown = selectors.campaign_shown(campaign=campaign)  # all its card shows
    content = tuple(campaign.shown for campaign in campaigns)
    return shared_render(request, "coupons/campaign_list.html", {"campaigns": campaigns}, content=content)


@shared_page
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        campaign = published.campaign_published(slug=slug)
    except ApplicationError:
        return render(request, "404.html", status=404)
    if campaign.allocation == campaign.Allocation.CHOSEN:
        unshare(request)  # a seat map shows the visitor's own holds: never one copy for all
    my_grant = None
    if request.user.is_authenticated:
        my_grant = selectors.grant_latest_for_user_in_campaign(user_id=request.user.pk, campaign_id=campaign.pk)
    room = published.campaign_room(campaign_id=campaign.pk)
    my_summary = grant_summary(my_grant) if my_grant else None
    context = {"campaign": campaign, "my_grant": my_grant, "my_summary": my_summary, "room": room}
    if campaign.allocation == campaign.Allocation.CHOSEN:
        user_id = request.user.pk if request.user.is_authenticated else None
        seats = seat_map(campaign_id=campaign.pk, user_id=user_id)
        context["sections"] = seat_layout(seats)
        context["bought"] = next((seat for seat in seats if seat.state == "bought"), None)
        context["wallet"] = selectors.wallet_get_for_user(user_id=user_id) if user_id else None
        return render(request, "coupons/seat_map.html", context)
    # a shared page has no visitor, so no grant of theirs: the campaign and its room are all it shows
    shown = selectors.campaign_shown(campaign=campaign)
    context["campaign_row"] = shown[0]  # the page's parts that show the row but not the stock
    content = (shown, (room.pk, room.slug) if room else None)
    return shared_render(request, "coupons/campaign_detail.html", context, content=content)


@login_required
@require_POST
def campaign_claim(request: HttpRequest, slug: str) -> HttpResponse:
    """The claim as a plain form: POST, then redirect back to the campaign page."""
    try:
        campaign_id = selectors.campaign_id_by_slug(slug=slug)
        outcome = claim_create(
            campaign_id=campaign_id,
            user_id=request.user.pk,
            access_pass=request.POST.get("access_pass") or None,
            client_ip=client_ip(request),
        )
    except ApplicationError as error:
        messages.error(request, error.detail)
        if "room_url" in error.extra:
            return redirect(error.extra["room_url"])
    else:
        if outcome.created:
            # No "on its way" flash: the page shows the grant's state and, once delivered, what it gave.
            messages.success(request, _("You are in: slot #%(slot)s.") % {"slot": outcome.slot})
        else:
            messages.info(request, _("You already hold slot #%(slot)s in this campaign.") % {"slot": outcome.slot})
    # the personal copy of the page: its flash message and the claim's state, scripts or not
    return redirect(reverse("campaign-detail", args=[slug]) + f"?{PERSONAL_PARAMETER}=1")


@require_GET
def me_state(request: HttpRequest) -> HttpResponse:
    """The visitor's fc_me cookie (and csrftoken), for a shared page whose script found it missing or
    a claim pending; the same state as JSON. Never cached: it is the visitor's own."""
    get_token(request)  # the forms of a shared page take the token from the cookie this sets
    state = me.me_state(user=request.user) if request.user.is_authenticated else None
    response = JsonResponse({"me": state})
    me.cookie_set(response, me.cookie_value(state) if state else me.ANONYMOUS)
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def my_grants(request: HttpRequest) -> HttpResponse:
    user_id = request.user.pk
    context = {
        "grants": [(grant, grant_summary(grant)) for grant in selectors.grant_list_for_user(user_id=user_id)[:100]],
        "wallet": selectors.wallet_get_for_user(user_id=user_id),
        "entries": selectors.ledger_list_for_user(user_id=user_id)[:20],
        "coupons": selectors.coupon_list_for_user(user_id=user_id)[:100],
    }
    return render(request, "coupons/my_grants.html", context)
