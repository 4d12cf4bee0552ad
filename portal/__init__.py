"""PCC Grant Reporting Portal: create_app() wires config, extensions, blueprints, errors and headers."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, request
from govuk_frontend_wtf.main import WTFormsHelpers
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module
from .database import configure_engine, sqlite_begin_mode
from .extensions import csrf, db, login_manager, migrate

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("PORTAL_INSTANCE_PATH") or None,
        instance_relative_config=True,
        static_url_path="/assets",
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    app.config.from_object(config_module.Config)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.update(config_module.from_environment(app.instance_path))
    else:
        if "SQLALCHEMY_DATABASE_URI" not in test_config or "SECRET_KEY" not in test_config:
            app.config.update(config_module.from_environment(app.instance_path))
        app.config.update(test_config)
    if app.debug or app.testing:
        app.config["SESSION_COOKIE_SECURE"] = app.config.get("SESSION_COOKIE_SECURE_IN_TESTS", False)
    # The __Host- prefix pins a Secure cookie to this host with Path=/.
    app.config["SESSION_COOKIE_NAME"] = "__Host-portal" if app.config["SESSION_COOKIE_SECURE"] else "portal"
    config_module.check_secret(app)

    if app.config["PROXY_FIX_X_FOR"] > 0:
        # Behind that many proxies the client address is theirs to tell (X-Forwarded-For); otherwise the header is
        # anyone's to forge, so it is not read at all.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"])  # type: ignore[method-assign]
    _init_extensions(app)
    _init_templates(app)
    _register_blueprints(app)

    from . import assets, cli, errors, security, security_log

    errors.register(app)
    security.register(app)
    # Static files are answered before the app is reached, with the same security headers.
    assets.register(app, lambda: security.security_headers(app))
    security_log.register(app)
    cli.register(app)

    @app.before_request
    def _begin_mode():
        # Reads begin DEFERRED; writes take SQLite's lock up front (see database.py).
        sqlite_begin_mode.set("DEFERRED" if request.method in SAFE_METHODS else "IMMEDIATE")

    if not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return app


def _init_extensions(app: Flask) -> None:
    from . import models  # noqa: F401  (register every table)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    with app.app_context():
        configure_engine(db.engine)

    from .auth.loader import load_user, unauthorized

    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)

    from .services import summary

    summary.register(app)  # every write keeps the overview's summary rows in step, in its own transaction


def _init_templates(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader(
        [
            PackageLoader("portal"),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    WTFormsHelpers(app)
    from . import templating

    templating.register(app)


def _register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .csu import bp as csu_bp
    from .finance import bp as finance_bp
    from .main import bp as main_bp
    from .partner import bp as partner_bp
    from .setup import bp as setup_bp

    for blueprint in (main_bp, auth_bp, partner_bp, csu_bp, finance_bp, setup_bp, admin_bp, audit_bp):
        app.register_blueprint(blueprint)
