"""Simulated devices that speak the drivers' protocols from the device side, reusing the codecs."""
