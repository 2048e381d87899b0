"""Usernames: the NFKC form people log in with, and the skeleton that tells look-alikes apart.

A skeleton (Unicode UTS #39, computed by ICU's SpoofChecker through PyICU) maps
every character to a representative of the characters it can be confused
with: "аlice" (Cyrillic а), "a1ice", "aIice" and "alice" share the skeleton
"alice". A name has two: that of its NFKC form (where capital I still looks
like l) and that of its case-folded form (so "ALICE" and "ａｌｉｃｅ" meet
"alice"). Two names sharing a skeleton look alike; a new name sharing one with
an existing user is refused (accounts/models.py).
"""

import threading
import unicodedata

import icu

_local = threading.local()


def _checker() -> icu.SpoofChecker:
    # One checker per thread: ICU documents a checker as safe to share only once configured,
    # and one per thread costs nothing.
    checker = getattr(_local, "checker", None)
    if checker is None:
        checker = _local.checker = icu.SpoofChecker()
    return checker


def username_normalize(username: str) -> str:
    """The form usernames are stored in and looked up by (what Django's forms and User.clean() do)."""
    return unicodedata.normalize("NFKC", username)


def username_skeletons(username: str) -> list[str]:
    """The UTS #39 skeletons of the NFKC name and of its case-folded form (one when they agree)."""
    normalized = username_normalize(username)
    checker = _checker()
    return sorted({checker.getSkeleton(0, normalized), checker.getSkeleton(0, normalized.casefold())})
