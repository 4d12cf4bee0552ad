"""Signing in and out, changing a password, and "Your account". The route table; guards and loaders live beside it."""

from flask import Blueprint

from . import account, invitation, mfa, reauth, reset, views

bp = Blueprint("auth", __name__)

bp.add_url_rule("/sign-in", view_func=views.sign_in, methods=["GET", "POST"])
bp.add_url_rule("/sign-out", view_func=views.sign_out, methods=["POST"])
bp.add_url_rule("/account/password", view_func=views.password_change, methods=["GET", "POST"])
# The second factor after the password (auth/mfa.py), set up at sign-in or from "Your account"; the idle warning.
bp.add_url_rule("/sign-in/code", view_func=mfa.mfa_code, methods=["GET", "POST"])
bp.add_url_rule("/sign-in/recovery-code", view_func=mfa.mfa_recovery, methods=["GET", "POST"])
bp.add_url_rule("/sign-in/set-up", view_func=mfa.mfa_setup, methods=["GET", "POST"])
bp.add_url_rule("/account/authenticator", view_func=mfa.account_mfa_setup, methods=["GET", "POST"])
bp.add_url_rule("/account/authenticator/turn-off", view_func=mfa.account_mfa_turn_off, methods=["GET", "POST"])
# "Confirm it's you" before an administrator's change (auth/reauth.py).
bp.add_url_rule("/confirm-identity", view_func=reauth.identity_confirm, methods=["GET", "POST"])
bp.add_url_rule("/session/keep-alive", view_func=mfa.keep_alive, methods=["POST"])

# Your account: name, the mail you get, and sessions (the password is changed on its own page above).
bp.add_url_rule("/account", view_func=account.account)
bp.add_url_rule("/account/name", view_func=account.account_name, methods=["GET", "POST"])
bp.add_url_rule("/account/emails", view_func=account.account_mail, methods=["GET", "POST"])
bp.add_url_rule("/account/sign-out-everywhere-else", view_func=account.account_sign_out_elsewhere, methods=["POST"])
# Links sent by mail: a forgotten password, and accepting an invitation.
bp.add_url_rule("/password-reset", view_func=reset.password_reset_request, methods=["GET", "POST"])
bp.add_url_rule("/password-reset/sent", view_func=reset.password_reset_sent)
bp.add_url_rule("/password-reset/<token>", view_func=reset.password_reset, methods=["GET", "POST"])
bp.add_url_rule("/invitations/<token>", view_func=invitation.invitation_accept, methods=["GET", "POST"])
