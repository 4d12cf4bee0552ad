"""Signing in and out, changing a password, and "Your account". The route table; guards and loaders live beside it."""

from flask import Blueprint

from . import account, views

bp = Blueprint("auth", __name__)

bp.add_url_rule("/sign-in", view_func=views.sign_in, methods=["GET", "POST"])
bp.add_url_rule("/sign-out", view_func=views.sign_out, methods=["POST"])
bp.add_url_rule("/account/password", view_func=views.password_change, methods=["GET", "POST"])

# Your account: name and sessions (the password is changed on its own page above).
bp.add_url_rule("/account", view_func=account.account)
bp.add_url_rule("/account/name", view_func=account.account_name, methods=["GET", "POST"])
bp.add_url_rule("/account/sign-out-everywhere-else", view_func=account.account_sign_out_elsewhere, methods=["POST"])
