"""A WeChat sandbox that holds its answers to payscore completions (our charge): WeChat deducts at
once, but the answer waits until the test releases it, so a process can be killed while its charge
is in flight."""

from __future__ import annotations

import threading
from typing import Any

from openvend.sandbox.wechat import WeChatSandbox

HOLD_LIMIT_S = 30.0


class HeldCharges:
    def __init__(self, sandbox: WeChatSandbox) -> None:
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.count = 0
        answer = sandbox.gateway.handle_api

        def handle_api(request: Any) -> Any:
            response = answer(request)
            if request.method == "POST" and request.path.endswith("/complete"):
                self.count += 1
                self.arrived.set()
                self.released.wait(HOLD_LIMIT_S)
            return response

        sandbox.gateway.handle_api = handle_api  # type: ignore[method-assign]

    def release(self) -> None:
        self.released.set()
