"""The toll collector's booth: shifts, operators, the internal payment slip and drivers' receipts.

* :mod:`edge.booth.shift`: :class:`~edge.booth.shift.Booth` and :class:`~edge.booth.shift.Shift`, the shift as a
  pure state machine (opening -> open -> closing -> closed) emitting journal records.
* :mod:`edge.booth.records`: those records (pydantic, JSON-ready payloads).
* :mod:`edge.booth.report`: the shift report.
* :mod:`edge.booth.operators`: PIN sign-in, lockout, audit, supervisor approval (SQLite).
* :mod:`edge.booth.slip`: the internal payment slip (内部缴款单) as PDF and ESC/POS.
* :mod:`edge.booth.receipt`: the driver's receipt as PDF and ESC/POS.
"""
