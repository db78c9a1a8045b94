"""`openvend gateway`: one or more gateway processes in the foreground until interrupted."""

from __future__ import annotations

import gc
import multiprocessing
import signal
import threading

from django.conf import settings


def _serve(url: str, index: int = 0) -> None:
    import django

    django.setup()
    from openvend.gateway.runner import Gateway, config_from_settings

    gateway = Gateway(config_from_settings(url or None, index=index))
    # What is loaded by now lives as long as the process: frozen, the garbage collector never walks
    # it again (a full collection of a fresh gateway took about 50 ms, and stops every thread).
    gc.freeze()
    gateway.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(10):
            print(f"gateway {dict(gateway.stats)}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        gateway.stop()


def run_gateway(*, url: str = "", processes: int = 1) -> int:
    url = url or settings.MQTT_URL
    if not url:
        print("No broker: set MQTT_URL or pass --url (openvend demo runs an embedded broker and gateway).")
        return 2
    if processes <= 1:
        _serve(url)
        return 0
    # Several processes share one subscription (MQTT_SHARED_GROUP): the broker splits the traffic.
    children = [multiprocessing.Process(target=_serve, args=(url, i), daemon=False) for i in range(processes)]
    for child in children:
        child.start()
    try:
        for child in children:
            child.join()
    except KeyboardInterrupt:
        for child in children:
            child.terminate()
    return 0
