"""Shift-cash reconciliation at central: the money records projection, tariff versions by hash, the per-shift
checks (independent of the edge's own arithmetic), collectors against their peers, the supervisor's review and the
custody of the cash bags."""
