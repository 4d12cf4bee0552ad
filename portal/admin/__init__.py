"""The administrator's pages: organisations and the people who use the portal. The route table."""

from flask import Blueprint

from ..auth.guards import require_role
from ..models.user import ADMIN
from . import outbox, views

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role(ADMIN))

bp.add_url_rule("/", view_func=views.home)

# The outbox (mail): portal/admin/outbox.py.
bp.add_url_rule("/outbox", view_func=outbox.outbox_list)
bp.add_url_rule("/outbox/<int:message_id>", view_func=outbox.outbox_message)
bp.add_url_rule("/outbox/<int:message_id>/send-again", view_func=outbox.outbox_send_again, methods=["POST"])
