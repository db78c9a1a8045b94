"""Shopper-facing pages of the Alipay sandbox: plain, phone-sized, bilingual HTML."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

_STYLE = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;
background:#f5f5f5;color:#222}
header{background:#1677ff;color:#fff;padding:14px 16px;font-size:17px}
main{max-width:420px;margin:0 auto;padding:16px}
.card{background:#fff;border-radius:10px;padding:16px;margin-bottom:14px}
.amount{font-size:30px;font-weight:600;text-align:center;margin:8px 0}
label{display:block;font-size:14px;color:#666;margin-bottom:6px}
input[type=text]{width:100%;box-sizing:border-box;font-size:16px;padding:10px;border:1px solid #ccc;
border-radius:6px}
button{width:100%;font-size:17px;padding:12px;border:0;border-radius:8px;margin-top:12px}
.ok{background:#1677ff;color:#fff}.no{background:#e5e5e5;color:#333}
.error{color:#c00}.muted{color:#888;font-size:13px}
"""


def page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><header>{escape(title)}</header><main>{body}</main></body></html>"
    ).encode()


def _hidden(fields: Mapping[str, str]) -> str:
    return "".join(f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in fields.items())


def _user_picker(known_users: Iterable[str], default: str) -> str:
    options = "".join(f"<option value='{escape(u)}'>" for u in known_users)
    return (
        "<label for='user_id'>支付宝用户 ID / Alipay user id</label>"
        f"<input type='text' id='user_id' name='user_id' value='{escape(default)}' list='users' "
        "inputmode='numeric' pattern='2088[0-9]{12}' required>"
        f"<datalist id='users'>{options}</datalist>"
    )


def consent_form(
    *,
    title: str,
    lines: Iterable[str],
    action: str,
    hidden: Mapping[str, str],
    known_users: Iterable[str],
    default_user: str,
    allow_label: str,
    error: str = "",
) -> bytes:
    """A page where the shopper picks who they are and allows or refuses."""
    text = "".join(f"<p>{escape(line)}</p>" for line in lines)
    problem = f"<p class='error'>{escape(error)}</p>" if error else ""
    body = (
        f"<div class='card'>{text}{problem}</div>"
        f"<form class='card' method='post' action='{escape(action)}'>{_hidden(hidden)}"
        f"{_user_picker(known_users, default_user)}"
        f"<button class='ok' name='decision' value='allow'>{escape(allow_label)}</button>"
        "<button class='no' name='decision' value='deny' formnovalidate>取消 / Cancel</button>"
        "</form>"
    )
    return page(title, body)


def message(title: str, text: str, *, error: bool = False) -> bytes:
    css = "error" if error else ""
    return page(title, f"<div class='card'><p class='{css}'>{escape(text)}</p></div>")


def index(gateway_url: str, apps: Iterable[str]) -> bytes:
    items = "".join(f"<li>{escape(a)}</li>" for a in apps)
    body = (
        "<div class='card'><p>支付宝开放平台沙箱 / Alipay OpenAPI sandbox</p>"
        f"<p class='muted'>Gateway: {escape(gateway_url)}</p><ul>{items}</ul></div>"
    )
    return page("Alipay sandbox", body)
