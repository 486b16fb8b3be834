"""The site file's network connections of devices that talk over IP: camera listeners and MQTT brokers, with who
may push to them and how the edge signs in (see :mod:`edge.site` for the file as a whole)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from parking.tls import ClientTls

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpListenConnection(_Strict):
    """The edge listens; the device (a plate camera) pushes to ``http://<listen>/<path>``.

    Who may push: ``allow_from`` lists the camera's addresses or networks (``["192.168.1.64", "10.0.0.0/24"]``);
    without it only loopback, or anyone with the credentials. ``username`` and ``password_env`` (the environment
    variable holding the password) are the credentials the camera is set up with for its HTTP host notifications,
    checked as HTTP ``digest`` (default) or ``basic`` (which also accepts digest). A camera listening beyond loopback
    needs one or the other (``parkgate config check`` says so).
    """

    type: Literal["http_listen"]
    listen: str = Field(default="0.0.0.0:8080", pattern=r"^[^:\s]+:\d{1,5}$")
    path: str = Field(default="/", pattern=r"^/[!-~]{0,127}$")
    allow_from: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, min_length=1, max_length=64)
    username: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[^:\s]+$")
    password_env: str | None = Field(default=None, pattern=ENV_NAME)
    auth: Literal["digest", "basic"] = "digest"
    silence_timeout_s: float = Field(
        default=60.0, gt=0, le=86400, description="no event or heartbeat for this long: offline (an alert at the booth)"
    )

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, entries: list[str] | None) -> list[str] | None:
        for entry in entries or ():
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 192.168.1.64, 10.0.0.0/24)"
                ) from None
        return entries

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    def beyond_loopback(self) -> bool:
        """True when the listener can be reached from other hosts."""
        if self.host == "localhost":
            return False
        try:
            return not ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return True  # a host name: assume it resolves to a public interface


class MqttConnection(_Strict):
    """A broker the device publishes to. ``mqtts://`` is TLS (port 8883 by default): ``ca_file`` is the CA that
    signed the broker's certificate (default: the system's), ``cert_file`` and ``key_file`` the edge's client
    certificate where the broker wants one. ``username`` and ``password_env`` (the environment variable holding the
    password) are this device's account on the broker (see config/mosquitto/ for an ACL giving each camera its
    topics). Files are relative to the site file."""

    type: Literal["mqtt"]
    broker: str = Field(default="mqtt://127.0.0.1:1883", pattern=r"^mqtts?://[^\s/]+(:\d{1,5})?$")
    topics: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(min_length=1, max_length=16)
    username: str | None = Field(default=None, min_length=1, max_length=128)
    password_env: str | None = Field(default=None, pattern=ENV_NAME)
    qos: Literal[0, 1, 2] = 1
    ca_file: str | None = Field(default=None, min_length=1)
    cert_file: str | None = Field(default=None, min_length=1)
    key_file: str | None = Field(default=None, min_length=1)

    @property
    def tls(self) -> bool:
        return self.broker.startswith("mqtts://")


def connection_problems(
    path: str, conn: HttpListenConnection | MqttConnection, base_dir: Path
) -> list[tuple[str, str]]:
    """Who a camera listener lets in, and a broker account's pieces, complete and consistent: ``(key path,
    message)`` for each problem."""
    problems: list[tuple[str, str]] = []
    at = f"{path}.connection"
    if (conn.username is None) != (conn.password_env is None):
        missing = "password_env" if conn.password_env is None else "username"
        problems.append((f"{at}.{missing}", "username and password_env go together (the credentials)"))
    if isinstance(conn, HttpListenConnection):
        if conn.beyond_loopback() and conn.allow_from is None and conn.username is None:
            problems.append(
                (
                    f"{at}.allow_from",
                    f"the camera listens on {conn.listen}, beyond loopback, and would accept pushes from anyone: "
                    "give allow_from (the camera's addresses) or username and password_env (its credentials)",
                )
            )
        return problems
    given = [key for key in ("ca_file", "cert_file", "key_file") if getattr(conn, key) is not None]
    if not conn.tls:
        return problems + [(f"{at}.{key}", "TLS files need an mqtts:// broker") for key in given]
    named = [(f"{at}.{key}", "a file name cannot hold a NUL character") for key in given
             if "\x00" in str(getattr(conn, key))]  # fmt: skip
    if named:  # no file system takes it (and resolving it raises)
        return problems + named
    # Each file there and PEM of its kind, a certificate with its own key (the same checks as [central]'s).
    ca, cert, key = (base_dir / f if f else None for f in (conn.ca_file, conn.cert_file, conn.key_file))
    problems += [(err.setting, err.message) for err in ClientTls(ca, cert, key, prefix=f"{at}.").problems()]
    return problems
