"""The central office service: passes, access cards, vehicle lists, billing, sync and ingest, auth and roles."""
