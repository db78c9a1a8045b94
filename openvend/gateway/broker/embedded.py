"""An in-process MQTT broker (amqtt 0.12) with OpenVend's device authentication and topic ACL.

For development, demos and tests: one process, no Mosquitto to install. Production runs Mosquitto
with the files from ``openvend.gateway.broker.mosquitto``; both enforce ``acl.py``.

What this broker does:

* Authentication: the gateway account by its password; a device by its active ``DeviceCredential``
  (not revoked, device active), checked with ``verify_secret`` against the database on every
  CONNECT, so a rotated or revoked secret is refused at once, without a restart. A device must use
  its code as the client id. Anonymous and unknown clients are refused (CONNACK 5, not authorised).
  A device that is connected when its secret is rotated or revoked stays connected until it
  disconnects: amqtt does not re-check live sessions (Mosquitto drops them on its reload).
* Topics: PUBLISH, SUBSCRIBE and delivery (amqtt's RECEIVE check) follow ``acl.py``. A refused
  subscription gets SUBACK 0x80; a refused publish is dropped. A will message on a topic the client
  may not publish on is dropped at CONNECT (Mosquitto accepts the CONNECT and drops that will
  too).
* No shared subscriptions: amqtt 0.12 takes ``$share/<group>/<filter>`` as a literal filter that
  never matches anything, so the ACL refuses it (SUBACK 0x80). The embedded setup runs a single
  gateway, which subscribes to ``ov/v1/d/+/up/#`` without ``$share``.

Two amqtt 0.12.1 behaviours are corrected in ``_Broker`` because they break the ACL:

* it removed or took over the session of the CONNECT's client id *before* authenticating, so
  anyone who knew a device's code could drop its subscriptions or connection;
* on every CONNECT it sent the new client the retained messages matching *any* client's
  subscriptions, bypassing the topic checks (a device saw other devices' retained status).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import threading
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action, ListenerConfig
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session
from amqtt.utils import format_client_message, gen_client_id
from asgiref.sync import sync_to_async

from openvend.devices.credentials import hash_secret, verify_secret
from openvend.gateway.broker import acl

logger = logging.getLogger(__name__)

# Set on a session authenticated before amqtt touched its client id (see _Broker); consumed once.
_PREAUTHENTICATED = "openvend.preauthenticated"


@functools.cache
def _dummy_hash() -> str:
    return hash_secret("openvend-no-such-device")


def _device_secret_ok(username: str, password: str) -> bool:
    """Runs in a worker thread: the ORM and PBKDF2 must stay off the broker's event loop."""
    from django.db import close_old_connections

    from openvend.devices.choices import DeviceStatus
    from openvend.devices.models import DeviceCredential

    # This thread lives outside any request cycle: drop connections Django would consider stale
    # before the query, and release ours afterwards.
    close_old_connections()
    try:
        hashes = list(
            DeviceCredential.objects.filter(
                username=username,
                device__code=username,
                device__status=DeviceStatus.ACTIVE,
                revoked_at__isnull=True,
            ).values_list("secret_hash", flat=True)
        )
    finally:
        close_old_connections()
    if not hashes:
        # The same PBKDF2 work as a real check, so response time does not reveal which codes exist.
        verify_secret(password, _dummy_hash())
        return False
    return any(verify_secret(password, stored) for stored in hashes)


class DeviceAuthPlugin(BaseAuthPlugin):
    """The gateway by its configured password; devices by their credentials in the database."""

    @dataclass
    class Config:
        gateway_username: str = ""
        gateway_password: str = ""

    async def authenticate(self, *, session: Session) -> bool:
        username, password = session.username, session.password
        if not username or password is None:
            return False
        if username == self.config.gateway_username:
            expected = self.config.gateway_password
            if not expected or not hmac.compare_digest(password.encode(), expected.encode()):
                return False
            may_publish = functools.partial(acl.gateway_may_publish, gateway_username=username)
        else:
            # Username = client id = device code: a device may not use (and so disturb) another
            # client's session.
            if not acl.is_device_username(username) or session.client_id != username:
                return False
            check = sync_to_async(_device_secret_ok, thread_sensitive=False)
            try:
                accepted = await check(username, password)
            except Exception:
                # A broker that cannot check a secret refuses it rather than leave the client hanging.
                logger.exception("device credential check failed", extra={"username": username})
                return False
            if not accepted:
                return False
            may_publish = functools.partial(acl.device_may_publish, username)
        if session.will_flag and not may_publish(session.will_topic or ""):
            # amqtt publishes wills without the PUBLISH check; drop it here as Mosquitto does.
            logger.warning("will on a forbidden topic dropped", extra={"username": username})
            session.will_flag = False
            session.will_topic = None
            session.will_message = None
        return True


class DeviceTopicPlugin(BaseTopicPlugin):
    """``acl.py`` for PUBLISH, SUBSCRIBE and delivery (RECEIVE)."""

    @dataclass
    class Config:
        gateway_username: str = ""

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool:
        if session is None or not session.username or not topic:
            return False
        username = session.username
        gateway = self.config.gateway_username
        if username == gateway:
            match action:
                case Action.PUBLISH:
                    return acl.gateway_may_publish(topic, gateway_username=gateway)
                case Action.SUBSCRIBE:
                    # allow_shared=False: amqtt 0.12 has no shared subscriptions (see module doc).
                    return acl.gateway_may_subscribe(topic, gateway_username=gateway, allow_shared=False)
                case Action.RECEIVE:
                    return acl.gateway_may_receive(topic, gateway_username=gateway)
            return False
        match action:
            case Action.PUBLISH:
                return acl.device_may_publish(username, topic)
            case Action.SUBSCRIBE:
                return acl.device_may_subscribe(username, topic)
            case Action.RECEIVE:
                return acl.device_may_receive(username, topic)
        return False


class _Broker(Broker):
    """amqtt's broker with the session handling fixed where it defeats authentication or the ACL.

    Both overrides restate amqtt 0.12.1 private methods; requirements.lock pins that release."""

    async def _initialize_client_session(
        self,
        reader: Any,
        writer: Any,
        remote_address: str,
        remote_port: int,
    ) -> tuple[BrokerProtocolHandler, Session]:
        try:
            handler, client_session = await BrokerProtocolHandler.init_from_connect(
                reader, writer, self.plugins_manager
            )
        except AMQTTError as exc:
            raise AMQTTError(exc) from exc
        except MQTTError as exc:
            await writer.close()
            raise MQTTError(exc) from exc
        except NoDataError as exc:
            raise AMQTTError(exc) from exc

        # Authenticate before the client id is looked up: amqtt would otherwise delete or take over
        # the session of that id for a client it is about to refuse.
        if not await super()._authenticate(client_session, self.listeners_config["default"]):
            await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await writer.close()
            address = format_client_message(address=remote_address, port=remote_port)
            raise MQTTError(f"{address}: not authorised")
        client_session.attributes[_PREAUTHENTICATED] = True

        if client_session.clean_session:
            if client_session.client_id:
                await self._delete_session(client_session.client_id)
            else:
                client_session.client_id = gen_client_id()
            client_session.parent = 0
        elif client_session.client_id in self._sessions:
            existing, _handler = self._sessions[client_session.client_id]
            existing.will_flag = client_session.will_flag
            existing.will_message = client_session.will_message
            existing.will_topic = client_session.will_topic
            existing.will_qos = client_session.will_qos
            existing.will_retain = client_session.will_retain
            existing.keep_alive = client_session.keep_alive
            existing.username = client_session.username
            existing.password = client_session.password
            existing.attributes[_PREAUTHENTICATED] = True
            client_session = existing
            client_session.parent = 1
        else:
            client_session.parent = 0

        delay = self.config.get("timeout-disconnect-delay", 0)
        if client_session.keep_alive > 0 and isinstance(delay, int):
            client_session.keep_alive += delay
        return handler, client_session

    async def _authenticate(self, session: Session, listener: ListenerConfig) -> bool:
        if session.attributes.pop(_PREAUTHENTICATED, False):
            return True
        return await super()._authenticate(session, listener)

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        topic_filter, qos = subscription
        # amqtt calls this with every filter in the broker when a client connects; only the
        # client's own subscriptions may bring it retained messages, each passing the ACL.
        subscribers = self._subscriptions.get(topic_filter, [])
        if not any(subscriber.client_id == session.client_id for subscriber, _qos in subscribers):
            return
        handler = self._get_handler(session)
        if handler is None:
            return
        tasks = []
        for topic, retained in list(self._retained_messages.items()):
            if not self._matches(topic, topic_filter):
                continue
            if not await self._topic_filtering(session, topic, Action.RECEIVE):
                continue
            message_qos = min(qos, retained.qos or qos)
            tasks.append(
                asyncio.ensure_future(handler.mqtt_publish(topic, retained.data, message_qos, retain=True))
            )
        if tasks:
            await asyncio.wait(tasks)


class EmbeddedBroker:
    """amqtt on its own event loop in a background thread.

    ``port=0`` binds a free port; ``.port`` and ``.url`` give the real one after ``start()``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        gateway_username: str,
        gateway_password: str,
    ) -> None:
        if not gateway_username or not gateway_password:
            raise ValueError("the embedded broker needs the gateway's username and password")
        self.host = host
        self.port = port
        self.gateway_username = gateway_username
        self._gateway_password = gateway_password
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                f"{__name__}.DeviceAuthPlugin": {
                    "gateway_username": self.gateway_username,
                    "gateway_password": self._gateway_password,
                },
                f"{__name__}.DeviceTopicPlugin": {"gateway_username": self.gateway_username},
            },
        }

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once the listener accepts connections, raises if it cannot."""
        if self._thread is not None:
            raise RuntimeError("the embedded broker is already started")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="openvend-mqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"the embedded MQTT broker did not start within {timeout} s")
        if self._error is not None:
            error = self._error
            self._thread.join(timeout)
            self._thread = None
            raise RuntimeError(f"the embedded MQTT broker could not start on {self.url}") from error

    def stop(self, timeout: float = 10.0) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the embedded MQTT broker did not stop within {timeout} s")
        self._thread = self._loop = self._stopping = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                logger.exception("embedded MQTT broker stopped with an error")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        broker = _Broker(self._config(), loop=self._loop)
        await broker.start()
        server = broker._servers["default"].instance
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = int(sockets[0].getsockname()[1])  # the real port when port=0 was asked for
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await broker.shutdown()
