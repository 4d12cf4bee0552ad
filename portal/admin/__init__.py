"""The administrator's pages: organisations and the people who use the portal. The route table."""

from flask import Blueprint

from ..auth.guards import require_role
from ..models.user import ADMIN
from . import invitations, outbox, views

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role(ADMIN))

bp.add_url_rule("/", view_func=views.home)

# Invitations and the outbox (mail): portal/admin/invitations.py and portal/admin/outbox.py.
bp.add_url_rule("/invitations", view_func=invitations.invitation_list)
bp.add_url_rule("/invitations/new", view_func=invitations.invitation_new, methods=["GET", "POST"])
bp.add_url_rule("/invitations/<int:invitation_id>/resend", view_func=invitations.invitation_resend, methods=["POST"])
bp.add_url_rule(
    "/invitations/<int:invitation_id>/revoke", view_func=invitations.invitation_revoke, methods=["GET", "POST"]
)
bp.add_url_rule("/outbox", view_func=outbox.outbox_list)
bp.add_url_rule("/outbox/<int:message_id>", view_func=outbox.outbox_message)
bp.add_url_rule("/outbox/<int:message_id>/send-again", view_func=outbox.outbox_send_again, methods=["POST"])
