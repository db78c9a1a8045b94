"""A local WeChat Pay API v3 gateway (service-provider mode): signed requests in, signed answers and
encrypted notifications out, shopper pages for OAuth, the JSAPI cashier and payscore. No Django."""

from openvend.sandbox.wechat.notify import RETRY_SCHEDULE_S
from openvend.sandbox.wechat.server import WeChatSandbox, main

__all__ = ["RETRY_SCHEDULE_S", "WeChatSandbox", "main"]
