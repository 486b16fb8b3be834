"""The lanes' devices over the drivers: wiring, cameras, their life cycle."""
