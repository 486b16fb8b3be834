"""Lane display and voice: the :class:`LaneDisplay` interface lanes use, our serial line protocol
(:mod:`drivers.display.protocol`) and its driver :class:`SerialTextDisplay`. The line grammar and link in
:mod:`drivers.serial_line.line` / :mod:`drivers.serial_line.link` are shared with the card dispenser."""

from drivers.display.driver import DisplayEvent, DisplayFault, LaneDisplay, NullDisplay, SerialTextDisplay
from drivers.display.errors import (
    DisplayError,
    DisplayProtocolError,
    DisplayRefusedError,
    DisplayTimeoutError,
    DisplayTransportError,
)
from drivers.display.protocol import Colour
from drivers.serial_line.link import LineLinkConfig  # re-exported: a display is configured with it

__all__ = [
    "Colour",
    "DisplayError",
    "DisplayEvent",
    "DisplayFault",
    "DisplayProtocolError",
    "DisplayRefusedError",
    "DisplayTimeoutError",
    "DisplayTransportError",
    "LaneDisplay",
    "LineLinkConfig",
    "NullDisplay",
    "SerialTextDisplay",
]
