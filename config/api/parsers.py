"""The API's JSON parser: a body that is not plain, storable JSON is 400 `parse_error`, never a 500.

Python's json module turns some bodies into exceptions DRF does not expect
(RecursionError for deep nesting, LookupError for an unknown charset) and
accepts others that break later (lone surrogates cannot be encoded for
PostgreSQL or Redis; 1e400 is infinity; a 4,000-digit integer fits no
column). All of them are refused here, before a view sees anything.
`ApiBodyMiddleware` runs the same check for every API write, so an endpoint
that never reads its body refuses such a body too.
"""

import codecs
import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deeper than any body of ours (they are flat objects) and far below the recursion limit.
MAX_DEPTH = 16
# JSON numbers must fit PostgreSQL's bigint (integers) or a double (floats, finite).
MAX_INT = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
# Where the middleware leaves the parsed body for the DRF parser (parsed once per request).
_PARSED = "_firstcome_json_body"


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(value := int(text)) > MAX_INT:
        raise ValueError(_("A number is out of range."))
    return value


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(_("A number is out of range."))
    return value


def _constant(name: str) -> None:
    raise ValueError(_("%(name)s is not JSON.") % {"name": name})


def _check_plain(data: Any) -> None:
    """Depth and text of a parsed body, walked without recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise ValueError(_("A string holds a lone surrogate, which is not text."))
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ValueError(_("The body is nested too deeply."))
            items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
            for key, item in items:
                if key is not None:
                    stack.append((key, depth))
                stack.append((item, depth + 1))


def json_body_parse(raw: bytes, *, charset: str | None = None) -> Any:
    """The body as JSON, or ParseError (400 `parse_error`) saying what is wrong with it."""
    try:
        text = raw.decode(codecs.lookup(charset or "utf-8").name)
    except (LookupError, UnicodeDecodeError):
        raise ParseError(_("The body is not text in the declared charset (UTF-8 unless stated).")) from None
    try:
        data = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
        _check_plain(data)
    except RecursionError:
        raise ParseError(_("The body is nested too deeply.")) from None
    except ValueError as error:
        raise ParseError(_("JSON parse error: %(error)s") % {"error": error}) from None
    return data


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _sep, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"')
    return None


def request_json_check(request: HttpRequest) -> None:
    """For an API write: a JSON body must parse (ParseError otherwise); the result is kept for the view."""
    content_type = request.META.get("CONTENT_TYPE", "")
    if not _is_json(content_type):
        return  # the view's parser refuses other types with 415 if it reads the body at all
    try:
        raw = request.body  # Django refuses bodies above DATA_UPLOAD_MAX_MEMORY_SIZE
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raise ParseError(_("The body is larger than %(limit)d bytes.") % {"limit": limit}) from None
    if raw:
        setattr(request, _PARSED, json_body_parse(raw, charset=_charset(content_type)))


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the checks above (and the middleware's result reused)."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        django_request = getattr((parser_context or {}).get("request"), "_request", None)
        if django_request is not None and hasattr(django_request, _PARSED):
            return getattr(django_request, _PARSED)
        charset = (parser_context or {}).get("encoding") or _charset(media_type or "")
        return json_body_parse(stream.read() if stream is not None else b"", charset=charset)
