"""Pages for everyone: the start, health, accessibility statement and privacy notice. The route table."""

from flask import Blueprint

from . import views

bp = Blueprint("main", __name__)

bp.add_url_rule("/", view_func=views.index)
bp.add_url_rule("/healthz", view_func=views.healthz)
bp.add_url_rule("/accessibility", view_func=views.accessibility)
bp.add_url_rule("/privacy", view_func=views.privacy)
bp.add_url_rule("/no-access", view_func=views.no_role)
