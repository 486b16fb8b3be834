"""The domain shared by edge and central: money, plates, vehicle classes, tariffs, the site file and the wire contract.

Nothing here performs I/O beyond reading the configuration files it is asked to read, and nothing here imports the
other ParkGate packages.
"""
