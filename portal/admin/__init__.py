"""The administrator's pages: organisations and the people who use the portal. The route table."""

from flask import Blueprint

from ..auth.guards import require_role
from ..models.user import ADMIN
from . import views

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role(ADMIN))

bp.add_url_rule("/", view_func=views.home)
