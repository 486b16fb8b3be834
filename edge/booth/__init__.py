"""The toll collector's booth: shifts, operators, the internal payment slip, the handover and drivers' receipts.

* :mod:`edge.booth.booth`: :class:`~edge.booth.booth.Booth`, which begins shifts (one at a time), hands the last
  handover to the next, numbers receipts and restores its shifts from the journal.
* :mod:`edge.booth.shift`: :class:`~edge.booth.shift.Shift`, the shift as a pure state machine
  (opening -> open -> closing -> closed) emitting journal records; :mod:`edge.booth.tally` its running totals.
* :mod:`edge.booth.records`: those records (pydantic, JSON-ready payloads, ``kind`` per record type).
* :mod:`edge.booth.report`: the shift report and the shift panel's running totals.
* :mod:`edge.booth.cash`: cash counted by denomination, per currency.
* :mod:`edge.booth.operators`: PIN sign-in, lockout, audit, supervisor approval (SQLite).
* :mod:`edge.booth.slip`: the internal payment slip (内部缴款单) as PDF and ESC/POS.
* :mod:`edge.booth.handover`: the shift report and handover record (交接班记录) as ESC/POS.
* :mod:`edge.booth.receipt`: the driver's receipt as PDF and ESC/POS.
* :mod:`edge.booth.fonts`: the CJK font for the PDFs.
* :mod:`edge.booth.alerts`: the booth's alert list (raised, acknowledged, kept beside the journal) and the journal
  records of an acknowledgement and of a collector's fault report; :mod:`edge.booth.alert_desk` the desk's side.
"""
