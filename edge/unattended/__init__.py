"""Unattended exits that take money: settlements of scan-to-pay orders from central, and remote vends."""
