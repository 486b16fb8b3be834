"""ESC/POS receipt printers: a pure encoder and decoder (:mod:`.commands`, :mod:`.decode`) and the serial and
network (raw TCP, port 9100) transports (:mod:`.transport`)."""
