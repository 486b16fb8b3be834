"""Central's settings, from ``PARKGATE_*`` environment variables (or a ``.env`` file).

Development defaults let ``parkgate central run`` start on a laptop with a SQLite file; outside development the
settings refuse what is unsafe for a real operator (a SQLite file shared by nobody, a weak bootstrap password).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from parking.privacy import Retention

DEFAULT_DATABASE_URL = "sqlite:///parkgate-central.db"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARKGATE_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="SQLAlchemy URL; PostgreSQL in production")
    db_pool_size: int = Field(default=10, ge=1, le=200)
    session_hours: int = Field(default=12, ge=1, le=24 * 30, description="how long an operator's login lasts")
    office_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="an office console sign-in ends after this long without a request"
    )
    office_secure_cookies: bool = Field(default=False, description="mark the office console's cookies Secure (HTTPS)")
    office_sign_in_attempts: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="failed office sign-ins allowed per account in the window (20x per address)",
    )
    office_sign_in_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    pay_page_requests_per_minute: int = Field(
        default=300, ge=1, le=100_000, description="requests per source address to the driver's pay page and order API"
    )
    payment_notifications_per_minute: int = Field(
        default=1200, ge=1, le=1_000_000, description="payment notifications per source address and provider"
    )
    sync_page_default: int = Field(default=20_000, ge=1, le=50_000)
    sync_page_max: int = Field(default=50_000, ge=1, le=200_000)
    tombstone_days: int = Field(default=90, ge=1, description="how long deletions are kept for delta sync")
    docs_enabled: bool = True
    recon_peer_factor: float = Field(default=3.0, ge=1.0, description="a collector's rate above this × the median")
    recon_peer_min_gap: float = Field(default=5.0, ge=0.0, description="... and this many per 100 exits above it")
    recon_peer_min_exits: int = Field(default=20, ge=1, description="fewer exits in the period: not compared")
    recon_bag_step_hours: float = Field(default=24.0, gt=0, description="a cash bag's longest wait between steps")
    # E-payments (central/payments): a provider is offered only when its merchant settings are all set.
    payment_notify_base_url: str | None = Field(
        default=None, description="central's address as the providers reach it, for their notifications"
    )
    payment_notification_max_age_s: int = Field(
        default=300, ge=10, le=3600, description="a notification signed longer ago than this is refused as a replay"
    )
    wechat_base_url: str = Field(default="https://api.mch.weixin.qq.com", description="WeChat Pay API v3 gateway")
    wechat_mchid: str | None = None
    wechat_appid: str | None = None
    wechat_merchant_serial: str | None = Field(default=None, description="serial of the merchant API certificate")
    wechat_merchant_key_file: str | None = Field(default=None, description="PEM file of the merchant's private key")
    wechat_apiv3_key_file: str | None = Field(default=None, description="file holding the 32-byte APIv3 key")
    wechat_platform_public_key_file: str | None = Field(default=None, description="WeChat Pay public key (PEM)")
    wechat_platform_public_key_id: str | None = Field(default=None, description="its id, PUB_KEY_ID_...")
    alipay_gateway: str = Field(default="https://openapi.alipay.com/gateway.do", description="Alipay open API gateway")
    alipay_appid: str | None = None
    alipay_app_key_file: str | None = Field(default=None, description="PEM file of the app's RSA2 private key")
    alipay_public_key_file: str | None = Field(default=None, description="PEM file of Alipay's public key")
    # Billing: renewal reminders (apprise URLs) and the direct-debit bank profiles.
    reminder_mail_url: str | None = Field(default=None, description="apprise mailto:// URL of the SMTP server")
    reminder_webhook_url: str | None = Field(default=None, description="apprise json:// URL of an SMS/WeChat gateway")
    debit_profile_dir: str | None = Field(default=None, description="default: the project's config/debit-profiles")
    edge_images_dir: str = Field(
        default="parkgate-edge-images", description="where the edges' evidence images are kept (one folder per edge)"
    )
    retention_images_days: int = Field(
        default=30, ge=1, le=3650, description="evidence pictures and picture references kept this many days"
    )
    retention_events_days: int = Field(
        default=365, ge=1, le=3650, description="plates and card numbers in the edges' records kept this many days"
    )
    edge_image_max_bytes: int = Field(default=2_000_000, ge=10_000, le=50_000_000, description="largest image taken")
    # TLS for `parkgate central run` (the flags --tls-cert, --tls-key, --tls-client-ca, --tls-client-crl override
    # these).
    tls_cert_file: str | None = Field(default=None, description="PEM certificate (chain) central serves HTTPS with")
    tls_key_file: str | None = Field(default=None, description="PEM private key of that certificate (unencrypted)")
    tls_client_ca_file: str | None = Field(
        default=None, description="PEM CA: when set, every client (edge) must present a certificate it signed"
    )
    tls_client_crl_file: str | None = Field(
        default=None,
        description="PEM revocation list of that CA: a client certificate it lists at start fails the "
        "handshake; one it lists as the file is now (read again when it changes) gets 403 auth.certificate_revoked",
    )
    edge_client_certificates: bool = Field(
        default=False,
        description="every edge token must come with that edge's own client certificate (implied by a client CA; set "
        "it on a process without one too, so that it refuses edges' tokens)",
    )
    bootstrap_admin_password: str | None = Field(
        default=None, repr=False, description="creates user 'admin' with this password at start-up when no user exists"
    )

    @model_validator(mode="after")
    def pictures_go_first(self) -> Self:
        if self.retention_images_days > self.retention_events_days:
            raise ValueError("PARKGATE_RETENTION_IMAGES_DAYS must not exceed PARKGATE_RETENTION_EVENTS_DAYS: a picture "
                             "shows the plate the records no longer hold")  # fmt: skip
        return self

    @model_validator(mode="after")
    def refuse_unsafe_defaults(self) -> Self:
        if self.environment is Environment.DEVELOPMENT:
            return self
        problems = []
        if self.database_url.startswith("sqlite"):
            problems.append("PARKGATE_DATABASE_URL must name a PostgreSQL database outside development")
        if self.bootstrap_admin_password is not None and len(self.bootstrap_admin_password) < 12:
            problems.append("PARKGATE_BOOTSTRAP_ADMIN_PASSWORD must have at least 12 characters outside development")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def retention(self) -> Retention:
        """How long personal data stays in the edges' records and pictures (``parkgate central purge``)."""
        return Retention(images_days=self.retention_images_days, events_days=self.retention_events_days)

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the psycopg 3 driver spelled out, so ``postgresql://`` URLs work as given."""
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
