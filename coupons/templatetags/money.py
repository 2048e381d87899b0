"""Money in the reader's language: `{{ amount|krw }}` is "10,000 KRW" in English, "10,000원" in Korean."""

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.translation import pgettext

register = template.Library()


@register.filter
def krw(amount) -> str:
    if amount in (None, ""):
        return ""
    # Translators: an amount in Korean won; {amount} is the number with thousands separators.
    return pgettext("money", "{amount} KRW").format(amount=intcomma(int(amount), use_l10n=False))
