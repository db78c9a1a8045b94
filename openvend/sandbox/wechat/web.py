"""A few WSGI helpers: request parsing, responses, a regex router. Enough for a gateway, no framework."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote


class ApiError(Exception):
    """A v3 API error: HTTP status + WeChat's {"code", "message"} body."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        # wsgiref hands PATH_INFO over as latin-1 decoded bytes; recover the UTF-8 text.
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", errors="replace")
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        return cls(environ["REQUEST_METHOD"].upper(), path, environ.get("QUERY_STRING", ""), headers, body)

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            raise ApiError(400, "PARAM_ERROR", "请求体不是合法的JSON / body is not JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "PARAM_ERROR", "请求体应为JSON对象 / body must be a JSON object")
        return data

    def signed_url_candidates(self) -> list[str]:
        """The URL the client signed: path + query as sent. The server only sees the decoded path, so
        accept the decoded and the re-encoded spelling."""
        suffix = f"?{self.query_string}" if self.query_string else ""
        encoded = quote(self.path, safe="/-_.~!$&'()*+,;=:@|")
        return list(dict.fromkeys([encoded + suffix, self.path + suffix]))


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


STATUS_TEXT = {
    200: "OK",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def json_response(status: int, data: Any) -> Response:
    return Response(status, dumps(data).encode() if data is not None else b"")


def html_response(markup: str, status: int = 200) -> Response:
    return Response(status, markup.encode(), "text/html; charset=utf-8")


def redirect(location: str) -> Response:
    return Response(302, b"", "text/plain; charset=utf-8", {"Location": location})


def wsgi_reply(response: Response, start_response: Callable[..., Any]) -> Iterable[bytes]:
    status = f"{response.status} {STATUS_TEXT.get(response.status, 'Unknown')}"
    headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))]
    headers.extend(response.headers.items())
    start_response(status, headers)
    return [response.body]


Handler = Callable[..., Any]


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler for method+path; raises 405 when only the method is wrong."""
        path_known = False
        for route_method, regex, handler in self._routes:
            found = regex.match(path)
            if found:
                path_known = True
                if route_method == method:
                    return handler, found.groupdict()
        if path_known:
            raise ApiError(405, "METHOD_NOT_ALLOWED", "请求方法不被允许 / method not allowed")
        return None


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    """A phone-sized bilingual page in WeChat's colours."""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>
body{{margin:0;font-family:-apple-system,"PingFang SC",sans-serif;background:#ededed;color:#111}}
header{{background:#07c160;color:#fff;padding:14px 16px;font-size:17px}}
main{{max-width:480px;margin:0 auto;padding:16px}}
.card{{background:#fff;border-radius:8px;padding:16px;margin-bottom:12px}}
.amount{{font-size:34px;font-weight:600;text-align:center;margin:8px 0}}
.muted{{color:#888;font-size:13px}}
label{{display:block;margin:10px 0 4px;font-size:14px}}
input,select{{width:100%;box-sizing:border-box;padding:10px;font-size:16px;border:1px solid #ccc}}
button{{width:100%;padding:12px;font-size:17px;border:0;border-radius:6px;margin-top:12px}}
.primary{{background:#07c160;color:#fff}} .secondary{{background:#f2f2f2;color:#111}}
.error{{color:#fa5151}} table{{width:100%;font-size:14px}} td:last-child{{text-align:right}}
</style></head>
<body><header>微信支付 沙箱 / WeChat Pay sandbox</header><main>
<h3>{esc(title)}</h3>
{body}
</main></body></html>"""
