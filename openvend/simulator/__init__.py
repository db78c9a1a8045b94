"""The fleet simulator: cabinets that speak device protocol v1 through a real MQTT broker, for the
demo, the tests and the benchmarks. Everything here except `provision` and `cli` is Django-free."""

from openvend.simulator.device import SimulatedDevice
from openvend.simulator.fleet import Fleet

__all__ = ["Fleet", "SimulatedDevice"]
