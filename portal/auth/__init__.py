"""Signing in and out, and changing a password. The route table; guards and loaders live beside it."""

from flask import Blueprint

from . import invitation, reset, views

bp = Blueprint("auth", __name__)

bp.add_url_rule("/sign-in", view_func=views.sign_in, methods=["GET", "POST"])
bp.add_url_rule("/sign-out", view_func=views.sign_out, methods=["POST"])
bp.add_url_rule("/account/password", view_func=views.password_change, methods=["GET", "POST"])

# Links sent by mail: a forgotten password, and accepting an invitation.
bp.add_url_rule("/password-reset", view_func=reset.password_reset_request, methods=["GET", "POST"])
bp.add_url_rule("/password-reset/sent", view_func=reset.password_reset_sent)
bp.add_url_rule("/password-reset/<token>", view_func=reset.password_reset, methods=["GET", "POST"])
bp.add_url_rule("/invitations/<token>", view_func=invitation.invitation_accept, methods=["GET", "POST"])
