"""Lane display and voice: the :class:`LaneDisplay` interface lanes use, our serial line protocol
(:mod:`drivers.display.protocol`) and its driver :class:`SerialTextDisplay`. The line grammar and link in
:mod:`drivers.display.line` / :mod:`drivers.display.link` are shared with the card dispenser."""

from drivers.display.driver import DisplayEvent, DisplayFault, LaneDisplay, NullDisplay, SerialTextDisplay
from drivers.display.errors import (
    DisplayError,
    DisplayProtocolError,
    DisplayRefusedError,
    DisplayTimeoutError,
    DisplayTransportError,
)
from drivers.display.link import LineLinkConfig
from drivers.display.protocol import Colour

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
