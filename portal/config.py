"""Configuration: safe defaults here, secrets and locations from the environment."""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

# Values that must never protect a real deployment.
WEAK_SECRETS = {"", "dev", "secret", "changeme", "change-me", "development", "test", "default"}
MIN_SECRET_LENGTH = 32


class Config:
    # hide_parameters: a database error in a log never carries what was typed into a return.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True, "hide_parameters": True}
    # Sessions live in a signed cookie; revocation is checked on every request (User.session_token).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 8
    REMEMBER_COOKIE_DURATION = 0
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session; an hour-long narrative is not lost
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 1024 * 1024
    # Sign-in throttle: at most this many failures per account in the window.
    SIGN_IN_MAX_FAILURES = 10
    SIGN_IN_WINDOW_SECONDS = 300
    # Sign-in limits per client and per process (services/auth.py), all checked before any password is hashed.
    # Failures from one client address in the same window (a shared office NAT signs in correctly, so this only
    # has to be generous with typing mistakes); every worker counts the same rows in the database.
    SIGN_IN_MAX_PER_CLIENT = 30
    # Password hashes computed at once by one process (argon2id takes ARGON2_MEMORY_COST KiB each); a sign-in
    # that cannot get a turn within HASH_WAIT_SECONDS is answered 503 "busy" without hashing.
    MAX_CONCURRENT_HASHES = 2
    HASH_WAIT_SECONDS = 2.0
    # Proxies in front of the portal that set X-Forwarded-For (ProxyFix x_for); 0: none, so the header is ignored
    # and the client address is the connection's. Set it to the number of trusted hops, never more.
    PROXY_FIX_X_FOR = 0
    # Second factor and session limits (services/mfa.py, auth/loader.py). People with any of these roles must
    # set up an authenticator app at their next sign-in; everyone else may choose to on "Your account".
    MFA_REQUIRED_ROLES: tuple[str, ...] = ("csu", "finance", "admin")
    MFA_PENDING_SECONDS = 5 * 60  # time from a correct password to entering the code
    # An administrator's change (auth/reauth.py) needs the password, and the code when they have one, entered
    # within this many minutes: at sign-in or on "Confirm it's you" (ASVS 7.5.1).
    REAUTH_WINDOW_MINUTES: float = 15
    # Signed out after this many minutes without a request (a fraction is allowed, for tests), and in any case
    # PERMANENT_SESSION_LIFETIME seconds after signing in, however active. A warning shows this many seconds
    # before the idle limit, with "Stay signed in".
    SESSION_IDLE_MINUTES: float = 30
    SESSION_WARNING_SECONDS = 120
    # argon2id, RFC 9106 low-memory profile (argon2-cffi defaults).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4
    PASSWORD_MIN_LENGTH = 12
    SERVICE_NAME = "Community Safety Grant Reporting"
    PARTNERSHIP_NAME = "Sevenoaks District Community Safety Partnership"
    CONTACT_EMAIL = "community.safety@sevenoaks.example"
    RETURN_DUE_DAYS_DEFAULT = 14
    # Static files (portal/assets.py): where their hashed and compressed copies are written at start (None:
    # instance/assets), and where they are copied from (None: portal/static; tests point it at a copy).
    ASSETS_DIR: str | None = None
    ASSETS_SOURCE: str | None = None
    # Spend to date more than this share away from the straight-line profile needs an explanation.
    SPEND_PROFILE_TOLERANCE = "0.20"
    # The largest spend a partner can report for one quarter.
    MAX_QUARTER_SPEND_PENCE = 1_000_000_00
    # 360Giving publication (services/giving360.py). The prefix starts every grant id; a real deployment
    # registers its own with 360Giving. The funder is the partnership's lead council, which distributes
    # the PCC grant: its org-id is from the Local Authorities England register (GB-LAE, code SEV).
    # The beneficiary area is Sevenoaks district: ONS code E07000111, whose code type in 360Giving's
    # geoCodeType codelist is NMD (non-metropolitan district, the E07 entity).
    GIVING_PREFIX = "360G-sevenoaks-csp"
    FUNDING_ORG_ID = "GB-LAE-SEV"
    FUNDING_ORG_NAME = "Sevenoaks District Council"
    BENEFICIARY_LOCATION: dict = {"name": "Sevenoaks", "geoCode": "E07000111", "geoCodeType": "NMD"}
    GIVING_LICENSE = "https://creativecommons.org/licenses/by/4.0/"
    # Mail (services/mail.py, portal/smtp.py). No MAIL_SERVER: messages stay in the outbox, shown at /admin/outbox.
    MAIL_SERVER: str | None = None
    MAIL_PORT: int | None = None  # None: 587 for starttls, 465 for tls, 25 for none
    MAIL_SECURITY = "starttls"
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_FROM = "Community Safety Grant Reporting <no-reply@sevenoaks.example>"
    MAIL_TIMEOUT_SECONDS = 30
    # Retries: 1, 2, 4 … minutes after each refusal, never more than an hour apart; then the admin is told.
    MAIL_MAX_ATTEMPTS = 10
    MAIL_RETRY_BASE_SECONDS = 60
    MAIL_RETRY_CAP_SECONDS = 3600
    # A message still "sending" after this long was left by a worker that stopped: flagged, never resent by itself.
    # Well beyond MAIL_TIMEOUT_SECONDS, so a live worker's slow send is never taken for a dead one.
    MAIL_CLAIM_TIMEOUT_SECONDS = 600
    MAIL_BATCH_SIZE = 50
    MAIL_WATCH_INTERVAL_SECONDS = 5
    # The address people reach the portal at: links in mail start with it (never with a request's Host header).
    PUBLIC_URL = "http://127.0.0.1:5000"
    INVITATION_VALID_DAYS = 7
    PASSWORD_RESET_VALID_SECONDS = 30 * 60
    # Reset links asked for, per hour: per address, and per client address (a shared office NAT asks for more).
    PASSWORD_RESET_WINDOW_SECONDS = 60 * 60
    PASSWORD_RESET_PER_ADDRESS = 5
    PASSWORD_RESET_PER_CLIENT = 20
    # Reminders (`flask reminders send`, services/reminders.py): a reminder this many days before a return is
    # due, one the day after its due date, then one every REMINDER_OVERDUE_EVERY_DAYS days while it is overdue.
    REMINDER_DAYS_BEFORE = 7
    REMINDER_OVERDUE_EVERY_DAYS = 7
    # The CSU's weekly digest goes on this weekday (0 Monday … 6 Sunday), or on the first run after it that week.
    DIGEST_WEEKDAY = 0
    # Mails queued, with their records, per committed transaction.
    REMINDER_BATCH_SIZE = 50
    # Published tables (annual report, publication export) show counts of 1 to this many people as "5 or fewer".
    SMALL_NUMBER_THRESHOLD = 5
    # `flask retention apply` removes narrative text from returns older than this many financial years.
    RETENTION_YEARS = 6
    # The database failing (database.py, errors.py). gunicorn kills a worker that takes over 30 s (its default,
    # which `make run` uses), so a request waiting for the database gives up well before and answers 503 "busy",
    # with what was typed shown again. PostgreSQL: the longest wait for a row or table lock, and for any one
    # statement (0: no limit); SQLite: the longest wait for the write lock.
    DATABASE_LOCK_TIMEOUT_SECONDS = 5
    DATABASE_STATEMENT_TIMEOUT_SECONDS = 20
    DATABASE_BUSY_TIMEOUT_SECONDS = 15


def from_environment(instance_path: str) -> dict:
    """Read deployment settings from the environment, with an SQLite default in instance/."""
    settings: dict = {}
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        database_url = "sqlite:///" + str(Path(instance_path) / "portal.db")
    elif database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    settings["SQLALCHEMY_DATABASE_URI"] = database_url
    secret = os.environ.get("SECRET_KEY")
    settings["SECRET_KEY"] = secret if secret is not None else instance_secret(instance_path)
    settings["DEMO_PASSWORD"] = os.environ.get("DEMO_PASSWORD") or None
    # The host names this deployment answers to; any other Host header gets 400 (Flask's TRUSTED_HOSTS).
    hosts = [host.strip() for host in os.environ.get("TRUSTED_HOSTS", "").split(",") if host.strip()]
    if hosts:
        settings["TRUSTED_HOSTS"] = hosts
    settings.update(mail_settings(os.environ))
    settings.update(reminder_settings(os.environ))
    settings.update(whole_number_settings(os.environ))
    settings.update(sign_in_settings(os.environ))
    settings.update(session_settings(os.environ))
    settings.update(database_timeout_settings(os.environ))
    return settings


SIGN_IN_SETTINGS = {"SIGN_IN_MAX_PER_CLIENT": 1, "MAX_CONCURRENT_HASHES": 1, "PROXY_FIX_X_FOR": 0}


def sign_in_settings(environ) -> dict:
    """SIGN_IN_MAX_PER_CLIENT, MAX_CONCURRENT_HASHES and PROXY_FIX_X_FOR (whole numbers) from the environment."""
    settings: dict = {}
    for key, least in SIGN_IN_SETTINGS.items():
        value = environ.get(key, "").strip()
        if not value:
            continue
        if not value.isdigit() or int(value) < least:
            raise RuntimeError(f"{key} must be a whole number of at least {least}")
        settings[key] = int(value)
    return settings


DATABASE_TIMEOUTS = (
    "DATABASE_LOCK_TIMEOUT_SECONDS",
    "DATABASE_STATEMENT_TIMEOUT_SECONDS",
    "DATABASE_BUSY_TIMEOUT_SECONDS",
)


def database_timeout_settings(environ) -> dict:
    """The database's waits from the environment: seconds, like 5 or 0.5 (0 for no PostgreSQL limit)."""
    settings: dict = {}
    for key in DATABASE_TIMEOUTS:
        value = environ.get(key, "").strip()
        if not value:
            continue
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= 600:
            raise RuntimeError(f"{key} must be a number of seconds from 0 to 600, like 5")
        settings[key] = seconds
    return settings


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
REMINDER_DAY_SETTINGS = {"REMINDER_DAYS_BEFORE": (1, 60), "REMINDER_OVERDUE_EVERY_DAYS": (1, 60)}


def reminder_settings(environ) -> dict:
    """REMINDER_DAYS_BEFORE, REMINDER_OVERDUE_EVERY_DAYS and DIGEST_WEEKDAY (a name like monday, or 0-6)."""
    settings: dict = {}
    for key, (low, high) in REMINDER_DAY_SETTINGS.items():
        if environ.get(key):
            value = environ[key].strip()
            if not value.isdigit() or not low <= int(value) <= high:
                raise RuntimeError(f"{key} must be a whole number of days from {low} to {high}")
            settings[key] = int(value)
    if environ.get("DIGEST_WEEKDAY"):
        day = environ["DIGEST_WEEKDAY"].strip().lower()
        if day in WEEKDAYS:
            settings["DIGEST_WEEKDAY"] = WEEKDAYS.index(day)
        elif day.isdigit() and int(day) < len(WEEKDAYS):
            settings["DIGEST_WEEKDAY"] = int(day)
        else:
            raise RuntimeError("DIGEST_WEEKDAY must be a day of the week, like monday (or 0 for Monday … 6)")
    return settings


def whole_number_settings(environ) -> dict:
    """SMALL_NUMBER_THRESHOLD and RETENTION_YEARS from the environment; each at least 1."""
    settings: dict = {}
    for key in ("SMALL_NUMBER_THRESHOLD", "RETENTION_YEARS"):
        value = environ.get(key, "").strip()
        if not value:
            continue
        if not value.isdigit() or int(value) < 1:
            raise RuntimeError(f"{key} must be a whole number of at least 1, like 5")
        settings[key] = int(value)
    return settings


def session_settings(environ) -> dict:
    """SESSION_IDLE_MINUTES (5 to 480) and MFA_REQUIRED_ROLES (comma-separated roles; "none" for none)."""
    settings: dict = {}
    idle = environ.get("SESSION_IDLE_MINUTES", "").strip()
    if idle:
        if not idle.isdigit() or not 5 <= int(idle) <= 480:
            raise RuntimeError("SESSION_IDLE_MINUTES must be a whole number of minutes from 5 to 480, like 30")
        settings["SESSION_IDLE_MINUTES"] = int(idle)
    roles = environ.get("MFA_REQUIRED_ROLES", "").strip().lower()
    if roles:
        chosen = tuple(role.strip() for role in roles.split(",") if role.strip() and role.strip() != "none")
        if any(role not in ("partner", "csu", "finance", "admin") for role in chosen):
            raise RuntimeError("MFA_REQUIRED_ROLES must list roles from partner, csu, finance, admin (or be none)")
        settings["MFA_REQUIRED_ROLES"] = chosen
    return settings


MAIL_SECURITIES = ("starttls", "tls", "none")


def mail_settings(environ) -> dict:
    """MAIL_* and PUBLIC_URL from the environment; a value that cannot work stops the start with a reason."""
    settings: dict = {}
    for key in ("MAIL_SERVER", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_FROM"):
        if environ.get(key):
            settings[key] = environ[key]
    if environ.get("MAIL_PORT"):
        if not environ["MAIL_PORT"].isdigit() or not 0 < int(environ["MAIL_PORT"]) < 65536:
            raise RuntimeError("MAIL_PORT must be a port number, like 587")
        settings["MAIL_PORT"] = int(environ["MAIL_PORT"])
    if environ.get("MAIL_SECURITY"):
        security = environ["MAIL_SECURITY"].strip().lower()
        if security not in MAIL_SECURITIES:
            raise RuntimeError(f"MAIL_SECURITY must be one of {', '.join(MAIL_SECURITIES)}")
        settings["MAIL_SECURITY"] = security
    if environ.get("PUBLIC_URL"):
        parts = urlsplit(environ["PUBLIC_URL"])
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise RuntimeError("PUBLIC_URL must be the portal's address, like https://grants.example.gov.uk")
        settings["PUBLIC_URL"] = environ["PUBLIC_URL"].rstrip("/")
    return settings


def instance_secret(instance_path: str) -> str:
    """The secret kept in instance/secret_key, generated on first run (mode 0600)."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def check_secret(app) -> None:
    """Refuse to run a real deployment with a missing or well-known secret."""
    if app.debug or app.testing:
        return
    secret = app.config.get("SECRET_KEY") or ""
    if secret.lower() in WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH:
        raise RuntimeError(
            "SECRET_KEY is missing or too weak: set a random value of at least "
            f"{MIN_SECRET_LENGTH} characters, or unset it to use instance/secret_key."
        )
