"""The administrator's pages: organisations and the people who use the portal. The route table."""

from flask import Blueprint

from ..auth.guards import require_role
from ..auth.reauth import require_recent_identity
from ..models.user import ADMIN
from . import invitations, organisations, outbox, people, views

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role(ADMIN))
# Every change here alters who can do what: a recent password (and code) first, ASVS 7.5.1 (auth/reauth.py).
bp.before_request(require_recent_identity)

bp.add_url_rule("/", view_func=views.home)

# Organisations and people's accounts (roles, deactivation).
bp.add_url_rule("/organisations/new", view_func=organisations.organisation_add, methods=["GET", "POST"])
bp.add_url_rule("/organisations/<int:organisation_id>", view_func=organisations.organisation_view)
bp.add_url_rule(
    "/organisations/<int:organisation_id>/edit", view_func=organisations.organisation_edit, methods=["GET", "POST"]
)
bp.add_url_rule(
    "/organisations/<int:organisation_id>/retire", view_func=organisations.organisation_retire, methods=["GET", "POST"]
)
bp.add_url_rule(
    "/organisations/<int:organisation_id>/reinstate", view_func=organisations.organisation_reinstate, methods=["POST"]
)
bp.add_url_rule("/users/<int:user_id>", view_func=people.user_view)
bp.add_url_rule("/users/<int:user_id>/roles", view_func=people.user_roles, methods=["GET", "POST"])
bp.add_url_rule("/users/<int:user_id>/deactivate", view_func=people.user_deactivate, methods=["GET", "POST"])
bp.add_url_rule("/users/<int:user_id>/reactivate", view_func=people.user_reactivate, methods=["POST"])
bp.add_url_rule("/users/<int:user_id>/authenticator/reset", view_func=people.user_mfa_reset, methods=["GET", "POST"])
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
