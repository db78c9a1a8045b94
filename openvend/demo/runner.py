"""`openvend demo`: migrate, collect static files, seed, print the logins, run a worker and serve."""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings
from django.core.management import call_command

from openvend.demo.seed import seed_demo


def print_logins(logins: list[dict[str, str]], base_url: str) -> None:
    print("\nOpenVend demo is ready.\n")
    print(f"  Platform console: {base_url}/platform/")
    print(f"  Merchant console: {base_url}/console/")
    print(f"  Staff mobile H5:  {base_url}/m/")
    print(f"  API docs:         {base_url}/api/docs/\n")
    width = max(len(row["username"]) for row in logins)
    current = None
    for row in logins:
        if row["merchant"] != current:
            current = row["merchant"]
            print(f"  [{current}]")
        print(f"    {row['username']:<{width}}  {row['password']}   ({row['role']})")
    print(f"\n  Logins also written to {settings.VAR_DIR / 'demo-logins.json'}\n", flush=True)


def run_demo(*, host: str, port: int, serve: bool) -> int:
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    logins = seed_demo(settings.VAR_DIR / "demo-logins.json")
    base_url = f"http://{host}:{port}"
    print_logins(logins, base_url)
    if not serve:
        return 0
    from openvend.demo.fleet import start_demo_fleet

    fleet = start_demo_fleet(settings.VAR_DIR)
    print(
        f"  Device broker:    {fleet.url} ({len(fleet.fleet.devices)} simulated cabinets online)\n",
        flush=True,
    )
    from openvend.demo.payments import start_demo_payments

    payments = start_demo_payments(base_url)
    print(
        f"  Payment sandboxes: WeChat Pay {payments.wechat.url}  Alipay {payments.alipay.url}\n"
        f"  Shopper H5:       {payments.shopper_links(base_url)}\n",
        flush=True,
    )
    from openvend.demo.shoppers import start_demo_shoppers

    shoppers = start_demo_shoppers(fleet.fleet, payments.wechat)
    # The task worker runs beside the web server as a child process and stops with it.
    worker = subprocess.Popen([sys.executable, "-m", "openvend", "worker"])
    try:
        call_command("runserver", f"{host}:{port}", use_reloader=False, use_threading=True)
    except KeyboardInterrupt:
        pass
    finally:
        shoppers.stop()
        fleet.stop()
        payments.stop()
        worker.terminate()
        worker.wait(timeout=10)
    return 0
