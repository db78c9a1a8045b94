"""Many simulated devices at once: one paho client and two threads per device, which is fine up
to a couple of hundred devices on one machine."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from openvend.simulator.device import SimulatedDevice

# The sensor ids of the standard simulated cabinet: 4 shelves × 4 load cells.
DEFAULT_SENSORS = [f"s{shelf}-{n}" for shelf in range(1, 5) for n in range(1, 5)]


class Fleet:
    def __init__(self, devices: Iterable[SimulatedDevice]) -> None:
        self.devices = list(devices)
        self._by_code = {device.code: device for device in self.devices}

    @classmethod
    def from_credentials(
        cls,
        credentials: Iterable[Mapping[str, Any]],
        url: str,
        *,
        seed: int = 0,
        state_dir: str | Path | None = None,
        **options: Any,
    ) -> Fleet:
        """Devices from [{"code", "secret", optional "sensors" and "has_camera"}]. Each gets its own seed
        (seed + index), and a state file in `state_dir` if given, so a later run continues its seq and
        outbox."""
        devices = []
        for index, entry in enumerate(credentials):
            code = entry["code"]
            kwargs: dict[str, Any] = {
                "sensors": list(entry.get("sensors") or options.get("sensors") or DEFAULT_SENSORS)
            }
            kwargs.update({k: v for k, v in options.items() if k != "sensors"})
            if "has_camera" in entry:  # the device kind's geometry decides, whatever the options say
                kwargs["has_camera"] = bool(entry["has_camera"])
            state_path = Path(state_dir) / f"{code}.json" if state_dir is not None else None
            devices.append(
                SimulatedDevice(
                    code, entry["secret"], url, seed=seed + index, state_path=state_path, **kwargs
                )
            )
        return cls(devices)

    # Lifecycle ----------------------------------------------------------------------------
    def start(self, *, wait: float | None = 30.0, stagger_s: float = 0.0) -> Fleet:
        """Connect every device. `stagger_s` spaces the CONNECTs, as a fleet powering up after an
        outage would not all reach the broker in the same millisecond."""
        for device in self.devices:
            device.start(wait=None)
            if stagger_s:
                time.sleep(stagger_s)
        if wait is not None:
            deadline = time.monotonic() + wait
            for device in self.devices:
                if not device.wait_connected(max(0.0, deadline - time.monotonic())):
                    missing = [d.code for d in self.devices if not d.connected.is_set()]
                    raise ConnectionError(
                        f"{len(missing)} device(s) did not connect: {', '.join(missing[:10])}"
                    )
        return self

    def stop(self, clean: bool = True) -> None:
        # In parallel: a clean stop waits for the broker to confirm the shutdown status.
        with ThreadPoolExecutor(max_workers=min(32, len(self.devices) or 1)) as pool:
            list(pool.map(lambda device: device.stop(clean=clean), self.devices))

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(clean=True)

    # Introspection ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.devices)

    def __iter__(self) -> Iterator[SimulatedDevice]:
        return iter(self.devices)

    def __getitem__(self, code: str) -> SimulatedDevice:
        return self._by_code[code]

    def connected_count(self) -> int:
        return sum(1 for device in self.devices if device.connected.is_set())

    def outbox_size(self) -> int:
        return sum(device.outbox_size for device in self.devices)

    def counters(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for device in self.devices:
            total.update(device.stats())
        return total
