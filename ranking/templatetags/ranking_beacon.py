"""{% view_beacon campaign %}: the drop page's view beacon (static/js/beacon.js; docs/ranking.md, "Most viewed")."""

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def view_beacon(campaign) -> str:
    """The script that sends the beacon with probability VIEW_BEACON_SAMPLE_RATE; nothing for an unlisted
    drop (its views never count) or with the beacon off. The same for every reader, so a cached page
    carries it unchanged."""
    p = settings.VIEW_BEACON_SAMPLE_RATE
    if p <= 0 or getattr(campaign, "unlisted", False):
        return ""
    return format_html(
        '<script src="{}" data-url="{}" data-campaign="{}" data-p="{}" defer></script>',
        static("js/beacon.js"),
        reverse("api-view-beacon"),
        campaign.slug,
        repr(min(float(p), 1.0)),
    )
