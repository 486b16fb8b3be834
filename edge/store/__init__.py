"""What the edge keeps: the journal and its writer, the local lists, the outbox and list sync."""
