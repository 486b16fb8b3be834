"""Our serial line protocol's framing and link, shared by the lane display and the card dispenser: the line
grammar (:mod:`drivers.serial_line.line`, pure) and the request/answer link over a serial port or TCP
(:mod:`drivers.serial_line.link`)."""

from drivers.serial_line.link import LineLinkConfig

__all__ = ["LineLinkConfig"]
