"""The checkout benchmark's physical floor: the RSA signatures a paid visit cannot do without.

WeChat Pay v3 signs every request with the merchant's key and every response and notification with
the platform's key (RSA-2048, SHA-256); the receiver verifies each. Whatever the rest of a visit
costs, its signatures cost their number times (sign + verify), and the benchmark runs both sides on
the same machine. That gives a ceiling on visits per second which no change of ours can pass:
the machine's cores divided by the signatures' CPU per visit.

Counted in the main process, where the sandboxes run: every signature the sandbox makes (responses,
notifications) is verified by the platform, and every one it verifies (requests) was made by the
platform, so each counted operation stands for one signature made once and checked once. Costs are
measured here, with the same library, key size and padding as the protocol code.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SignatureCounter:
    """Counts `sign` and `verify` of `payments.protocols.wechat` in this process while installed."""

    signed: int = 0
    verified: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _originals: tuple[Any, Any] | None = None

    def install(self) -> SignatureCounter:
        from openvend.payments.protocols import wechat

        sign, verify = wechat.sign, wechat.verify
        self._originals = (sign, verify)

        def counted_sign(private_key_pem: str, message: str) -> str:
            with self._lock:
                self.signed += 1
            return sign(private_key_pem, message)

        def counted_verify(public_key_pem: str, message: str, signature_b64: str) -> bool:
            with self._lock:
                self.verified += 1
            return verify(public_key_pem, message, signature_b64)

        wechat.sign, wechat.verify = counted_sign, counted_verify  # type: ignore[assignment]
        return self

    def uninstall(self) -> None:
        from openvend.payments.protocols import wechat

        if self._originals is not None:
            wechat.sign, wechat.verify = self._originals  # type: ignore[assignment]
            self._originals = None


def rsa_costs(samples: int = 300) -> tuple[float, float]:
    """Seconds per RSA-2048 PKCS#1 v1.5 SHA-256 signature and per verification, on this machine now
    (the median of `samples` of each, over a message the size of a signed request)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key()
    message = ("POST\n/v3/payscore/serviceorder\n1700000000\n" + "A" * 32 + "\n" + "x" * 600 + "\n").encode()
    signs: list[float] = []
    verifies: list[float] = []
    for _ in range(samples):
        start = time.perf_counter()
        signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        signs.append(time.perf_counter() - start)
        start = time.perf_counter()
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        verifies.append(time.perf_counter() - start)
    signs.sort()
    verifies.sort()
    return signs[samples // 2], verifies[samples // 2]


def signature_floor(counter: SignatureCounter, paid_visits: int, pgbench_tps: float) -> dict[str, Any]:
    """The floor of the visits this run paid: signatures per visit, their CPU, the ceiling it puts on
    visits/s on this machine's cores, and the highest ratio to pgbench that ceiling allows."""
    sign_s, verify_s = rsa_costs()
    per_visit = (counter.signed + counter.verified) / paid_visits if paid_visits else float("nan")
    cpu_s = per_visit * (sign_s + verify_s)
    cores = os.cpu_count() or 1
    ceiling = cores / cpu_s if cpu_s > 0 else float("nan")
    return {
        "signatures_per_visit": round(per_visit, 2),
        "sign_us": round(sign_s * 1e6, 1),
        "verify_us": round(verify_s * 1e6, 1),
        "cpu_ms_per_visit": round(cpu_s * 1e3, 3),
        "cores": cores,
        "ceiling_per_s": round(ceiling, 1),
        "max_ratio": round(ceiling / pgbench_tps, 4) if pgbench_tps else float("nan"),
    }


def floor_lines(
    floor: dict[str, Any], completed_per_s: float, *, target_per_s: float, target_ratio: float, tps: float
) -> list[str]:
    ceiling = floor["ceiling_per_s"]
    return [
        f"physical floor (RSA-2048 signatures of the payment protocol): "
        f"{floor['signatures_per_visit']:.2f} per paid visit, each made once "
        f"({floor['sign_us']:.0f} µs) and checked once ({floor['verify_us']:.0f} µs): "
        f"{floor['cpu_ms_per_visit']:.2f} ms of CPU per visit",
        f"  on {floor['cores']} cores no more than {floor['ceiling_per_s']:.0f} visits/s if nothing else "
        f"cost anything (this run: {completed_per_s / floor['ceiling_per_s']:.4f} of that); "
        f"highest reachable ratio to pgbench {floor['max_ratio']:.3f}",
        f"  against the targets: {target_per_s:.0f} visits/s would spend "
        f"{target_per_s / ceiling:.0%} of the machine on signatures alone; a ratio of "
        f"{target_ratio:g} means {target_ratio * tps:.0f} visits/s, {target_ratio * tps / ceiling:.1f} × "
        f"the ceiling",
    ]
