"""The site file: one TOML file per car park, describing its lanes, devices and tariffs (read only by the edge).

:mod:`edge.site.model` is its shape (pydantic models, with the drivers' own configuration types where a driver has
one), :mod:`edge.site.network` the connections of devices that talk over IP, :mod:`edge.site.loader` the loading and
the checks that cross sections, every problem at its key path (``lanes[2].devices.camera``) and all at once.
"""

from edge.site.loader import (
    Problem,
    SiteError,
    central_tls,
    check_site,
    lane_devices,
    load_site,
    summary,
    tariff_path,
)
from edge.site.model import (
    Central,
    Device,
    DeviceKind,
    Direction,
    Lane,
    LaneMode,
    SerialConnection,
    SiteConfig,
    TcpConnection,
)

__all__ = [
    "Central",
    "Device",
    "DeviceKind",
    "Direction",
    "Lane",
    "LaneMode",
    "Problem",
    "SerialConnection",
    "SiteConfig",
    "SiteError",
    "TcpConnection",
    "central_tls",
    "check_site",
    "lane_devices",
    "load_site",
    "summary",
    "tariff_path",
]
