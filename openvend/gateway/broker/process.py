"""A Mosquitto broker run as a child process with OpenVend's generated config: for tests,
benchmarks and local trials. Production runs Mosquitto under its own service manager."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
from pathlib import Path

from openvend.gateway.broker.mosquitto import reload_mosquitto, render_broker_config, sync_mosquitto

RELOAD_MARKER = "Reloading config."
RESEND_AFTER_S = 1.0
"""How long `reload()` waits for the reload line before it sends SIGHUP again."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


class MosquittoProcess:
    """`start()` writes the password and ACL files from the database, a config on a free port, and
    waits until the broker listens; `reload()` rewrites the files and waits for the SIGHUP to land."""

    def __init__(self, binary: str, directory: Path, *, timeout: float = 5.0) -> None:
        self.binary = binary
        self.password_path = directory / "passwords"
        self.acl_path = directory / "acl"
        self.pid_file = directory / "mosquitto.pid"
        self.config_path = directory / "mosquitto.conf"
        self.log_path = directory / "mosquitto.log"
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> MosquittoProcess:
        sync_mosquitto(password_path=self.password_path, acl_path=self.acl_path)
        for _attempt in range(3):  # a free port can be taken between probing and binding
            self.port = _free_port()
            self.config_path.write_text(
                render_broker_config(
                    port=self.port,
                    password_path=self.password_path,
                    acl_path=self.acl_path,
                    pid_file=self.pid_file,
                    # Started as root, Mosquitto would switch to "mosquitto", which cannot read
                    # our 0600 files; as any other user the line has no effect.
                    user=pwd.getpwuid(os.geteuid()).pw_name,
                )
            )
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(  # noqa: S603 - our own binary and config
                    [self.binary, "-c", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT
                )
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                if _port_open(self.port) and self.pid_file.exists():
                    return self
                time.sleep(0.01)
            self.stop()
        raise RuntimeError(f"mosquitto did not start:\n{self.log()}")

    def reload(self) -> None:
        """Rewrite the files from the database, SIGHUP, and return once Mosquitto has reloaded."""
        before = self.log().count(RELOAD_MARKER)
        sync_mosquitto(
            password_path=self.password_path,
            acl_path=self.acl_path,
            pid_file=self.pid_file,
            confirm_reload=False,  # it waits for the reload line and asks again itself
        )
        now = time.monotonic()
        deadline, ask_again = now + self.timeout, now + RESEND_AFTER_S
        while self.log().count(RELOAD_MARKER) <= before:
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError("mosquitto did not reload")
            if now > ask_again:
                # Mosquitto logs the reload, reads the files, then clears its reload flag: a SIGHUP
                # that lands in between (another writer's reload under way) is lost. Ask again.
                reload_mosquitto(self.pid_file)
                ask_again = now + RESEND_AFTER_S
            time.sleep(0.01)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(self.timeout)
        self.process = None
