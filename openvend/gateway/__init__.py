"""The device gateway: the MQTT protocol (protocol.py, schemas/) and the path from broker to database."""
