"""OpenVend: cloud platform for unattended retail."""

__version__ = "0.1.0"
