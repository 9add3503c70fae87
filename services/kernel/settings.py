"""Typed settings, read once from the environment (12-factor).

Every variable has a default suited to the embedded mode; secrets may also be given as
``NAME_FILE`` pointing at a mounted file. ``ENVIRONMENT_VARIABLES`` is the documented list:
README's configuration table and deploy/ are checked against it.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    environment: str = "development"
    home: Path = Path("var")
    database_url: str = ""
    database_schema_prefix: str = ""
    database_pool_size: int = 10
    database_max_overflow: int = 0
    database_echo: bool = False
    database_pool_pre_ping: bool = False
    database_pool_recycle_seconds: int = 1800
    meili_url: str = ""
    meili_key: str = ""
    meili_index_prefix: str = "relais_"
    meili_max_lag_seconds: float = 30.0
    base_url: str = DEFAULT_BASE_URL
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"
    log_format: str = "json"
    jwt_issuer: str = ""  # RELAIS_BASE_URL/auth when empty (see load_settings)
    jwt_audience: str = "relais"
    jwt_jwks: str = ""
    jwt_jwks_url: str = ""
    jwt_leeway_seconds: int = 30
    token_revocation_refresh_seconds: float = 10.0
    directory_url: str = ""
    referrals_url: str = ""
    auth_url: str = ""
    service_timeout_seconds: float = 5.0
    directory_review_period_days: int = 182
    search_max_radius_km: float = 200.0
    link_check_concurrency: int = 8
    link_check_timeout_seconds: float = 10.0
    geocoder_url: str = ""
    geocoder_min_score: float = 0.6
    geocoder_timeout_seconds: float = 5.0
    worker_enabled: bool = True
    worker_poll_seconds: float = 1.0
    auth_access_token_ttl_seconds: int = 900
    auth_refresh_token_ttl_seconds: int = 2_592_000
    auth_signing_key_announce_seconds: int = 600
    auth_key_encryption_key: str = ""
    auth_key_encryption_key_previous: str = ""
    auth_login_slowdown_after: int = 3
    auth_login_lockout_after: int = 10
    auth_login_lockout_seconds: int = 900
    auth_login_ip_lockout_after: int = 50
    auth_upstream_issuer: str = ""
    auth_upstream_client_id: str = ""
    auth_upstream_client_secret: str = ""
    auth_upstream_scopes: str = "openid given_name usual_name email siret"
    auth_upstream_name: str = "ProConnect"
    mail_from: str = "Relais <no-reply@relais.invalid>"
    smtp_url: str = ""
    referrals_encryption_keys: str = ""
    referrals_encryption_key_id: str = ""
    referrals_response_days: int = 8
    referrals_reminder_days: int = 2
    referrals_closing_days: int = 30
    referrals_attachment_max_bytes: int = 1_000_000
    referrals_retention_months: int = 24
    referrals_attachment_retention_months: int = 6
    referrals_inactive_months: int = 24
    referrals_digest_hour: int = 7
    referrals_follow_up_code_limit: int = 60
    referrals_follow_up_ip_misses: int = 20
    referrals_follow_up_lockout_seconds: int = 900
    stats_min_cell: int = 5
    referrals_age_bands: str = "under_18,18_25,26_44,45_59,60_74,75_plus"
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_max_payload_bytes: int = 65_536
    webhook_retry_hours: float = 72.0
    webhook_retry_base_seconds: float = 5.0
    webhook_disable_after_failures: int = 15
    webhook_secret_overlap_hours: float = 24.0
    services: str = ""
    server_workers: int = 1
    forwarded_allow_ips: str = "127.0.0.1"
    shutdown_grace_seconds: float = 30.0
    shutdown_drain_seconds: float = 0.0
    worker_concurrency: int = 4
    worker_lease_seconds: float = 60.0
    worker_metrics_port: int = 9100
    otel_exporter_otlp_endpoint: str = ""
    tracing_sample_ratio: float = 1.0
    web_client_secret: str = ""
    web_session_idle_minutes: int = 120
    web_session_max_hours: int = 12
    web_inbox_poll_seconds: int = 30

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def referrals_closing_window(self) -> timedelta:
        """REFERRALS_CLOSING_DAYS as a duration."""
        return timedelta(days=self.referrals_closing_days)

    @property
    def age_bands(self) -> tuple[str, ...]:
        """REFERRALS_AGE_BANDS as codes, then ``unknown``."""
        return (*(b.strip() for b in self.referrals_age_bands.split(",") if b.strip()), "unknown")

    def schema_for(self, service: str) -> str:
        return f"{self.database_schema_prefix}{service}"


# (environment variable, field, description) — the public configuration surface.
ENVIRONMENT_VARIABLES: tuple[tuple[str, str, str], ...] = (
    (
        "RELAIS_ENV",
        "environment",
        "`development` or `production` (production refuses unsafe defaults)",
    ),
    ("RELAIS_HOME", "home", "embedded-mode data folder: SQLite files, mail, keys"),
    (
        "DATABASE_URL",
        "database_url",
        "PostgreSQL URL (`postgresql://…`); SQLite under RELAIS_HOME when empty",
    ),
    (
        "DATABASE_SCHEMA_PREFIX",
        "database_schema_prefix",
        "prefix of each service's PostgreSQL schema",
    ),
    ("DATABASE_POOL_SIZE", "database_pool_size", "connections kept per service and process"),
    (
        "DATABASE_MAX_OVERFLOW",
        "database_max_overflow",
        "connections opened past the pool under load, closed after each use (0: a request "
        "waits for a pooled one, `503` after 30 s; churning connections measured 27 % slower)",
    ),
    ("DATABASE_ECHO", "database_echo", "log SQL statements (development only)"),
    (
        "DATABASE_POOL_PRE_PING",
        "database_pool_pre_ping",
        "test each pooled connection before use (3 extra round trips per request with asyncpg; "
        "off: connections the server closed, as in a restart, are replaced at checkout without a "
        "round trip, with the rest of the pool; only requests in flight get a 503)",
    ),
    (
        "DATABASE_POOL_RECYCLE_SECONDS",
        "database_pool_recycle_seconds",
        "replace pooled connections older than this (under proxies' idle timeouts)",
    ),
    ("MEILI_URL", "meili_url", "Meilisearch URL; the database search is used when empty"),
    ("MEILI_KEY", "meili_key", "Meilisearch API key"),
    (
        "MEILI_INDEX_PREFIX",
        "meili_index_prefix",
        "prefix of the Meilisearch index names (several deployments can share one server)",
    ),
    (
        "MEILI_MAX_LAG_SECONDS",
        "meili_max_lag_seconds",
        "search falls back to the database while a directory change older than this is not indexed",
    ),
    (
        "RELAIS_BASE_URL",
        "base_url",
        "public base URL, used in links, e-mails, `next` pages and OIDC discovery; `relais serve` "
        "defaults it to the host and port it serves",
    ),
    ("RELAIS_MAX_BODY_BYTES", "max_body_bytes", "largest accepted request body (413 above)"),
    ("LOG_LEVEL", "log_level", "DEBUG, INFO, WARNING or ERROR"),
    ("LOG_FORMAT", "log_format", "`json` (one object per line) or `console`"),
    ("JWT_ISSUER", "jwt_issuer", "expected `iss` of access tokens (default: RELAIS_BASE_URL/auth)"),
    ("JWT_AUDIENCE", "jwt_audience", "expected `aud` of access tokens"),
    (
        "JWT_JWKS",
        "jwt_jwks",
        "inline JWKS (JSON) trusted for access tokens; overrides JWT_JWKS_URL",
    ),
    ("JWT_JWKS_URL", "jwt_jwks_url", "JWKS URL of the auth service; in-process auth when empty"),
    ("JWT_LEEWAY_SECONDS", "jwt_leeway_seconds", "clock skew tolerated on exp/nbf/iat"),
    (
        "TOKEN_REVOCATION_REFRESH_SECONDS",
        "token_revocation_refresh_seconds",
        "how often services re-read auth's list of revoked access tokens (a disabled account "
        "or revoked client is refused within this delay)",
    ),
    ("DIRECTORY_URL", "directory_url", "base URL of the directory service; in-process when empty"),
    ("REFERRALS_URL", "referrals_url", "base URL of the referrals service; in-process when empty"),
    ("AUTH_URL", "auth_url", "base URL of the auth service; in-process when empty"),
    (
        "SERVICE_TIMEOUT_SECONDS",
        "service_timeout_seconds",
        "timeout of service-to-service HTTP calls",
    ),
    (
        "DIRECTORY_REVIEW_PERIOD_DAYS",
        "directory_review_period_days",
        "days after which an unverified entry is stale",
    ),
    ("SEARCH_MAX_RADIUS_KM", "search_max_radius_km", "largest `radius_km` accepted by search"),
    ("LINK_CHECK_CONCURRENCY", "link_check_concurrency", "parallel requests of the link checker"),
    ("LINK_CHECK_TIMEOUT_SECONDS", "link_check_timeout_seconds", "timeout of one link check"),
    (
        "GEOCODER_URL",
        "geocoder_url",
        "address geocoder, off when empty: the Base Adresse Nationale search endpoint "
        "(`https://api-adresse.data.gouv.fr/search/`, or the same API at "
        "`https://data.geopf.fr/geocodage/search`) or a server answering its format; the "
        "worker job `directory.geocode` then places entries without coordinates at their "
        "address (precision `geocoded`) instead of their commune's centre",
    ),
    (
        "GEOCODER_MIN_SCORE",
        "geocoder_min_score",
        "lowest geocoder score (0 to 1) believed; a result below it leaves the entry at its "
        "commune's centre",
    ),
    (
        "GEOCODER_TIMEOUT_SECONDS",
        "geocoder_timeout_seconds",
        "timeout of one geocoder request (each is tried 3 times)",
    ),
    (
        "WORKER_ENABLED",
        "worker_enabled",
        "run the background jobs inside `relais serve` (false where `relais worker` runs them, "
        "as in the production manifests)",
    ),
    ("WORKER_POLL_SECONDS", "worker_poll_seconds", "how often the worker polls for due jobs"),
    (
        "AUTH_ACCESS_TOKEN_TTL_SECONDS",
        "auth_access_token_ttl_seconds",
        "lifetime of access tokens issued by auth (default 15 min)",
    ),
    (
        "AUTH_REFRESH_TOKEN_TTL_SECONDS",
        "auth_refresh_token_ttl_seconds",
        "lifetime of a refresh token family (default 30 days)",
    ),
    (
        "AUTH_SIGNING_KEY_ANNOUNCE_SECONDS",
        "auth_signing_key_announce_seconds",
        "how long a new signing key is published in the JWKS before it signs",
    ),
    (
        "AUTH_KEY_ENCRYPTION_KEY",
        "auth_key_encryption_key",
        "base64 32-byte key encrypting private signing keys at rest (recommended)",
    ),
    (
        "AUTH_KEY_ENCRYPTION_KEY_PREVIOUS",
        "auth_key_encryption_key_previous",
        "former key-encryption keys, comma-separated, still read during a rotation "
        "(`relais rotate-key-encryption-key` re-seals with the current one)",
    ),
    (
        "AUTH_LOGIN_SLOWDOWN_AFTER",
        "auth_login_slowdown_after",
        "failed logins (per e-mail) before each retry must wait (exponential)",
    ),
    (
        "AUTH_LOGIN_LOCKOUT_AFTER",
        "auth_login_lockout_after",
        "failed logins (per e-mail) before a temporary lockout",
    ),
    (
        "AUTH_LOGIN_LOCKOUT_SECONDS",
        "auth_login_lockout_seconds",
        "duration of a login lockout (per e-mail or per IP)",
    ),
    (
        "AUTH_LOGIN_IP_LOCKOUT_AFTER",
        "auth_login_ip_lockout_after",
        "failed logins from one IP address before it is locked out",
    ),
    (
        "AUTH_UPSTREAM_ISSUER",
        "auth_upstream_issuer",
        "issuer URL of an upstream OpenID Connect provider (ProConnect); off when empty",
    ),
    ("AUTH_UPSTREAM_CLIENT_ID", "auth_upstream_client_id", "client id at the upstream provider"),
    (
        "AUTH_UPSTREAM_CLIENT_SECRET",
        "auth_upstream_client_secret",
        "client secret at the upstream provider",
    ),
    ("AUTH_UPSTREAM_SCOPES", "auth_upstream_scopes", "scopes asked from the upstream provider"),
    ("AUTH_UPSTREAM_NAME", "auth_upstream_name", "name of the upstream provider on the login page"),
    ("MAIL_FROM", "mail_from", "sender of e-mails (invitations, password resets, notifications)"),
    (
        "SMTP_URL",
        "smtp_url",
        "smtp[s]://user:password@host:port (smtp://…?starttls=true to upgrade); .eml files under "
        "RELAIS_HOME/mail when empty",
    ),
    (
        "REFERRALS_ENCRYPTION_KEYS",
        "referrals_encryption_keys",
        "AES-256-GCM keys that wrap each referral's data key, `kid:base64key,…`; a key file "
        "under RELAIS_HOME/keys when empty (not in production)",
    ),
    (
        "REFERRALS_ENCRYPTION_KEY_ID",
        "referrals_encryption_key_id",
        "id of the key that wraps new data keys (default: the first listed)",
    ),
    (
        "REFERRALS_FOLLOW_UP_CODE_LIMIT",
        "referrals_follow_up_code_limit",
        "requests on one follow-up code (the person's page) before it is paused for "
        "REFERRALS_FOLLOW_UP_LOCKOUT_SECONDS",
    ),
    (
        "REFERRALS_FOLLOW_UP_IP_MISSES",
        "referrals_follow_up_ip_misses",
        "unknown or expired follow-up codes tried from one address before it is locked out",
    ),
    (
        "REFERRALS_FOLLOW_UP_LOCKOUT_SECONDS",
        "referrals_follow_up_lockout_seconds",
        "window and lockout duration of the follow-up code limits",
    ),
    (
        "REFERRALS_RESPONSE_DAYS",
        "referrals_response_days",
        "days a partner has to answer a handoff when its service sets no delay",
    ),
    (
        "REFERRALS_REMINDER_DAYS",
        "referrals_reminder_days",
        "days before a handoff's deadline when the receiver is reminded",
    ),
    (
        "REFERRALS_CLOSING_DAYS",
        "referrals_closing_days",
        "days after one side (referent or partner) closed its part of a referral during which "
        "the other side may close and evaluate its own; the referral ends when both have, or "
        "when this delay has passed (worker job `referrals.end-closings`)",
    ),
    (
        "REFERRALS_ATTACHMENT_MAX_BYTES",
        "referrals_attachment_max_bytes",
        "largest attachment accepted on a referral",
    ),
    (
        "REFERRALS_RETENTION_MONTHS",
        "referrals_retention_months",
        "months after the last event before personal data of ended referrals is erased",
    ),
    (
        "REFERRALS_ATTACHMENT_RETENTION_MONTHS",
        "referrals_attachment_retention_months",
        "months after the last event before attachments of ended referrals are erased",
    ),
    (
        "REFERRALS_INACTIVE_MONTHS",
        "referrals_inactive_months",
        "months without activity after which an open referral is anonymised",
    ),
    (
        "REFERRALS_DIGEST_HOUR",
        "referrals_digest_hour",
        "hour (UTC) after which the daily digest of each structure is sent",
    ),
    ("STATS_MIN_CELL", "stats_min_cell", "statistics: counts below this are suppressed"),
    (
        "REFERRALS_AGE_BANDS",
        "referrals_age_bands",
        "age bands a referral records and statistics count (comma-separated, youngest first: "
        "`under_N`, `N_M`, `N_plus`; `unknown` is always added)",
    ),
    (
        "WEBHOOK_ALLOW_PRIVATE",
        "webhook_allow_private",
        "allow webhook URLs on loopback, link-local or private addresses (tests, intranets)",
    ),
    ("WEBHOOK_TIMEOUT_SECONDS", "webhook_timeout_seconds", "timeout of one webhook delivery"),
    (
        "WEBHOOK_MAX_PAYLOAD_BYTES",
        "webhook_max_payload_bytes",
        "largest webhook body sent (larger events are cut down to ids and states)",
    ),
    (
        "WEBHOOK_RETRY_HOURS",
        "webhook_retry_hours",
        "how long a failing webhook message is retried (exponential backoff with jitter)",
    ),
    (
        "WEBHOOK_RETRY_BASE_SECONDS",
        "webhook_retry_base_seconds",
        "first retry delay of a webhook message; doubled at each attempt (capped at 6 h)",
    ),
    (
        "WEBHOOK_DISABLE_AFTER_FAILURES",
        "webhook_disable_after_failures",
        "consecutive failed attempts, failing for WEBHOOK_RETRY_HOURS, before a subscription "
        "is disabled (its admins are told)",
    ),
    (
        "WEBHOOK_SECRET_OVERLAP_HOURS",
        "webhook_secret_overlap_hours",
        "after a secret rotation, how long the previous secret still signs (two signatures)",
    ),
    (
        "RELAIS_SERVICES",
        "services",
        "services run by `relais serve` when none is named (comma-separated; default: all)",
    ),
    (
        "SERVER_WORKERS",
        "server_workers",
        "ASGI server processes of `relais serve` (each has its own database pool)",
    ),
    (
        "FORWARDED_ALLOW_IPS",
        "forwarded_allow_ips",
        "proxies trusted for X-Forwarded-For/-Proto (comma-separated IPs or CIDRs, `*` for all)",
    ),
    (
        "SHUTDOWN_GRACE_SECONDS",
        "shutdown_grace_seconds",
        "on SIGTERM, time given to in-flight requests and jobs before they are cut",
    ),
    (
        "SHUTDOWN_DRAIN_SECONDS",
        "shutdown_drain_seconds",
        "on SIGTERM, time `/readyz` answers 503 while still serving, before the server stops",
    ),
    ("WORKER_CONCURRENCY", "worker_concurrency", "jobs one worker process runs at the same time"),
    (
        "WORKER_LEASE_SECONDS",
        "worker_lease_seconds",
        "job lease length; a dead worker's jobs are taken over after it (renewed while running)",
    ),
    (
        "WORKER_METRICS_PORT",
        "worker_metrics_port",
        "port of `relais worker`'s /healthz, /readyz and /metrics (0: off)",
    ),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "otel_exporter_otlp_endpoint",
        "OTLP/HTTP collector URL (e.g. http://otel-collector:4318); tracing is off when empty",
    ),
    ("TRACING_SAMPLE_RATIO", "tracing_sample_ratio", "share of traces recorded, 0.0 to 1.0"),
    (
        "WEB_CLIENT_SECRET",
        "web_client_secret",
        "secret of the web app's OpenID Connect client at auth (registered by `relais migrate`); "
        "a file under RELAIS_HOME/keys when empty (not in production)",
    ),
    (
        "WEB_SESSION_IDLE_MINUTES",
        "web_session_idle_minutes",
        "web app: a session unused for this long is closed (sign in again)",
    ),
    (
        "WEB_SESSION_MAX_HOURS",
        "web_session_max_hours",
        "web app: longest life of a session, however active",
    ),
    (
        "WEB_INBOX_POLL_SECONDS",
        "web_inbox_poll_seconds",
        "web app: how often an open page refreshes the header's count of orientations received",
    ),
)

# Placeholder used for every secret in deploy/.env.example; refused in production.
EXAMPLE_MARKER = "change-me"

_SECRET_FIELDS = {
    "database_url",
    "meili_key",
    "jwt_jwks",
    "auth_key_encryption_key",
    "auth_key_encryption_key_previous",
    "auth_upstream_client_secret",
    "smtp_url",
    "referrals_encryption_keys",
    "web_client_secret",
}


def _read(env: dict[str, str], name: str) -> str | None:
    if name in env:
        return env[name]
    file_name = env.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE: cannot read {file_name!r} ({exc.strerror})") from exc
    return None


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment; raise SettingsError naming the bad variable."""
    env = dict(os.environ if environ is None else environ)
    raw: dict[str, Any] = {}
    for variable, field, _ in ENVIRONMENT_VARIABLES:
        value = _read(env, variable)
        if value is not None:
            raw[field] = value
    raw.update(overrides)
    # msgspec has no str -> Path conversion: do it for every Path-typed field.
    for info in msgspec.structs.fields(Settings):
        if info.type is Path and isinstance(raw.get(info.name), str):
            raw[info.name] = Path(raw[info.name])
    if not raw.get("jwt_issuer"):
        base = str(raw.get("base_url") or DEFAULT_BASE_URL)
        raw["jwt_issuer"] = f"{base.rstrip('/')}/auth"
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_name_variable(str(exc))) from exc
    check_age_bands(settings.age_bands)
    if not 0.0 <= settings.geocoder_min_score <= 1.0:
        raise SettingsError("GEOCODER_MIN_SCORE: a score between 0 and 1")
    check_production(settings)
    return settings


_AGE_BAND = re.compile(r"^(?:under_(\d+)|(\d+)_(\d+)|(\d+)_plus)$")


def check_age_bands(bands: tuple[str, ...]) -> None:
    """Bands follow each other without gap or overlap, from ``under_N`` or ``0_M`` up."""
    expected: int | None = 0
    for band in bands[:-1]:  # the last is "unknown"
        found = _AGE_BAND.match(band)
        if found is None or expected is None:
            raise SettingsError(
                f"REFERRALS_AGE_BANDS: {band!r} is not a band after the last one "
                "(expected under_N, N_M or N_plus, youngest first)"
            )
        under, low, high, plus = found.groups()
        start = 0 if under else int(low or plus)
        if start != expected or (low and int(high) < start):
            raise SettingsError(
                f"REFERRALS_AGE_BANDS: {band!r} does not start at {expected} years "
                "(bands follow each other without gap or overlap)"
            )
        expected = int(under) if under else int(high) + 1 if low else None
    if len(bands) < 2:
        raise SettingsError("REFERRALS_AGE_BANDS: at least one band is needed")


def _name_variable(message: str) -> str:
    for variable, field, _ in ENVIRONMENT_VARIABLES:
        if f"`$.{field}`" in message:
            return f"{variable}: {message.split(' - at ')[0]}"
    return message


# Secrets a service cannot run without in production (checked for the services a process runs,
# so that a directory pod needs no referral keys).
PRODUCTION_REQUIRED: dict[str, tuple[str, ...]] = {
    "auth": ("AUTH_KEY_ENCRYPTION_KEY", "SMTP_URL"),
    "referrals": ("REFERRALS_ENCRYPTION_KEYS", "SMTP_URL"),
    "web": ("WEB_CLIENT_SECRET",),
}


def check_production(settings: Settings, services: tuple[str, ...] | list[str] = ()) -> None:
    """Refuse development defaults in production and say which setting is wrong.

    ``services``: the services this process runs; their required secrets are checked too.
    """
    if not settings.production:
        return
    problems = []
    if settings.embedded:
        problems.append(
            "DATABASE_URL must point at PostgreSQL in production (SQLite is for embedded use)"
        )
    if settings.base_url.startswith("http://127.0.0.1"):
        problems.append("RELAIS_BASE_URL must be the public URL in production")
    if settings.database_echo:
        problems.append("DATABASE_ECHO must be off in production")
    if settings.log_level.upper() == "DEBUG":
        problems.append("LOG_LEVEL must not be DEBUG in production (debug output)")
    if settings.jwt_issuer.startswith("http://127.0.0.1"):
        problems.append("JWT_ISSUER must be the public URL of auth in production")
    values = msgspec.to_builtins(settings, enc_hook=str)
    fields = {variable: field for variable, field, _ in ENVIRONMENT_VARIABLES}
    required = sorted({name for s in services for name in PRODUCTION_REQUIRED.get(s, ())})
    problems += [
        f"{name} must be set in production" for name in required if not values.get(fields[name])
    ]
    problems += [
        f"{variable} still holds the example value of deploy/.env.example"
        for variable, field, _ in ENVIRONMENT_VARIABLES
        if EXAMPLE_MARKER in str(values.get(field, "")).lower()
    ]
    if problems:
        raise SettingsError("; ".join(problems))


def secret_variables() -> set[str]:
    """Variables holding secrets: given through Secret objects / ``*_FILE``, never a ConfigMap."""
    return {variable for variable, field, _ in ENVIRONMENT_VARIABLES if field in _SECRET_FIELDS}
