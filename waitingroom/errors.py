"""Domain errors of the waiting room."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


class RoomNotFound(ApplicationError):
    code = "not_found"
    status_code = 404
    default_detail = _("No such waiting room.")


class RoomNotOpen(ApplicationError):
    code = "not_open"
    status_code = 409
    default_detail = _("This waiting room has not opened yet.")


class RoomClosed(ApplicationError):
    code = "closed"
    status_code = 409
    default_detail = _("This waiting room is closed.")


class RoomSoldOut(ApplicationError):
    code = "sold_out"
    status_code = 409
    default_detail = _("Everything has been claimed; the waiting room is closed.")


class AdmissionRequired(ApplicationError):
    code = "admission_required"
    status_code = 403
    default_detail = _("This campaign is behind a waiting room: join it and come back with your access pass.")


class PassInvalid(ApplicationError):
    code = "pass_invalid"
    status_code = 403
    default_detail = _("This access pass is not valid (forged, expired, already used, or not yours).")


class PassRoomClosed(PassInvalid):
    """A pass of a room staff closed: not spent, it works again if staff reopen the room before it expires.

    A PassInvalid, so a caller that answers a repeat click with the grant the user already holds
    still does; the answer is 409 closed, not 403: nothing is wrong with the pass."""

    code = "closed"
    status_code = 409
    default_detail = _("This waiting room is closed; your pass works again if it reopens before it expires.")


class TicketInvalid(ApplicationError):
    code = "ticket_invalid"
    status_code = 400
    default_detail = _("This arrival ticket is not valid for this room and user.")
