"""`openvend gateway`: one or more gateway processes in the foreground until interrupted."""

from __future__ import annotations

import gc
import multiprocessing
import signal
import threading

from django.conf import settings


def _serve(url: str, index: int = 0, partitions: int = 1, first_partition: int = 0) -> None:
    import django

    django.setup()
    from openvend.gateway.runner import Gateway, config_from_settings

    config = config_from_settings(
        url or None, index=index, partitions=partitions, first_partition=first_partition
    )
    gateway = Gateway(config)
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


RESTART_AFTER_S = 2.0


def run_gateway(*, url: str = "", processes: int = 1, partitions: int = 0, first_partition: int = 0) -> int:
    """`processes` gateways on this host. Partitioned routing: process i takes partition
    `first_partition + i` of `partitions` (default `processes`: this host's gateways are all of them)."""
    url = url or settings.MQTT_URL
    if not url:
        print("No broker: set MQTT_URL or pass --url (openvend demo runs an embedded broker and gateway).")
        return 2
    partitions = partitions or processes
    if processes < 1 or not 0 <= first_partition <= partitions - processes:
        print(f"{processes} processes from partition {first_partition} do not fit in {partitions}.")
        return 2
    if processes == 1:
        _serve(url, 0, partitions, first_partition)
        return 0
    return _supervise(processes, (url, partitions, first_partition))


def _supervise(processes: int, args: tuple[str, int, int]) -> int:
    """Start the processes and restart any that dies: a partitioned gateway's devices have no other
    gateway, so a dead one must come back (its persistent session kept their messages meanwhile)."""
    url, partitions, first = args

    def start(index: int) -> multiprocessing.Process:
        child = multiprocessing.Process(target=_child, args=(url, index, partitions, first), daemon=False)
        child.start()
        return child

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())  # before any child: a stop is never missed
    children = [start(i) for i in range(processes)]
    try:
        while not stopped.wait(RESTART_AFTER_S):
            for index, child in enumerate(children):
                if not child.is_alive():
                    print(f"gateway {index} exited with {child.exitcode}; restarting it", flush=True)
                    children[index] = start(index)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(10)
            if child.is_alive():  # a gateway that cannot stop in time must not outlive its supervisor
                child.kill()
                child.join()
    return 0


def _child(url: str, index: int, partitions: int, first: int) -> None:
    # A forked child starts with the supervisor's SIGTERM handler, which would only set the
    # supervisor's (copied) event: until the gateway installs its own, SIGTERM must simply end it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _serve(url, index, partitions, first)
