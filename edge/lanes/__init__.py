"""The lanes' pure core: events in, actions out; identification, the car park's state, fees."""
