"""Central's settings, from ``PARKGATE_*`` environment variables (or a ``.env`` file).

Development defaults let ``parkgate central run`` start on a laptop with a SQLite file; outside development the
settings refuse what is unsafe for a real operator (a SQLite file shared by nobody, a weak bootstrap password).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    sync_page_default: int = Field(default=20_000, ge=1, le=50_000)
    sync_page_max: int = Field(default=50_000, ge=1, le=200_000)
    tombstone_days: int = Field(default=90, ge=1, description="how long deletions are kept for delta sync")
    docs_enabled: bool = True
    recon_peer_factor: float = Field(default=3.0, ge=1.0, description="a collector's rate above this × the median")
    recon_peer_min_gap: float = Field(default=5.0, ge=0.0, description="... and this many per 100 exits above it")
    recon_peer_min_exits: int = Field(default=20, ge=1, description="fewer exits in the period: not compared")
    recon_bag_step_hours: float = Field(default=24.0, gt=0, description="a cash bag's longest wait between steps")
    # Billing: renewal reminders (apprise URLs) and the direct-debit bank profiles.
    reminder_mail_url: str | None = Field(default=None, description="apprise mailto:// URL of the SMTP server")
    reminder_webhook_url: str | None = Field(default=None, description="apprise json:// URL of an SMS/WeChat gateway")
    debit_profile_dir: str | None = Field(default=None, description="default: the project's config/debit-profiles")
    edge_images_dir: str = Field(
        default="parkgate-edge-images", description="where the edges' evidence images are kept (one folder per edge)"
    )
    edge_image_max_bytes: int = Field(default=2_000_000, ge=10_000, le=50_000_000, description="largest image taken")
    bootstrap_admin_password: str | None = Field(
        default=None, description="creates user 'admin' with this password at start-up when no user exists"
    )

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
    def sqlalchemy_url(self) -> str:
        """The URL with the psycopg 3 driver spelled out, so ``postgresql://`` URLs work as given."""
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
