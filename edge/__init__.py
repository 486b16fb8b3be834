"""The edge daemon: lanes, identification and decisions, the journal, the outbox, booth shifts and the console."""
