"""`openvend`: one entry point for running, operating and measuring OpenVend.

openvend demo       run the embedded default with demo data on http://127.0.0.1:8000
openvend serve      serve the web app with gunicorn (settings from DJANGO_SETTINGS_MODULE)
openvend migrate    apply database migrations
openvend worker     run the background task worker
openvend gateway    run the MQTT gateway between devices and the database
openvend device provision   create simulated devices and print their broker credentials (JSON)
openvend simulate   run a fleet of simulated devices against the broker
openvend bench N    run benchmark N (`openvend bench --list`)
openvend planogram check|optimize   predict how well a planogram decodes; design one that decodes well
openvend sandbox wechat|alipay   a local WeChat Pay v3 / Alipay gateway (prints its credentials as JSON)
openvend recognize  decide what each cabinet session took from weight changes (and vision); JSON lines
openvend manage …   any Django management command
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

EMBEDDED = "openvend.config.settings.embedded"


def _setup(default_settings: str = EMBEDDED) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings)
    import django

    django.setup()


def _manage(*args: str) -> None:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["openvend", *args])


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = EMBEDDED
    _setup()
    from openvend.demo.runner import run_demo

    return run_demo(host=args.host, port=args.port, serve=not args.no_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    _setup()
    from gunicorn.app.wsgiapp import run as gunicorn_run

    sys.argv = [
        "gunicorn",
        "openvend.config.wsgi:application",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.workers),
        "--access-logfile",
        "-",
    ]
    gunicorn_run()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    _setup()
    _manage("migrate", "--noinput")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    _setup()
    import threading

    from openvend.payments.services.reconcile import reconcile_forever

    # Payments whose result is overdue (a lost notification, a lost task) are queried and repaired
    # beside the task queue. Several workers may run it: each payment is claimed by one of them.
    stop = threading.Event()
    threading.Thread(target=reconcile_forever, args=(stop,), name="payment-reconciler", daemon=True).start()
    try:
        _manage("db_worker", *args.extra)
    finally:
        stop.set()
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openvend.bench.settings")
    from openvend.bench import run_benchmark

    return run_benchmark(args.name, list_only=args.list)


def cmd_gateway(args: argparse.Namespace) -> int:
    _setup()
    from openvend.gateway.cli import run_gateway

    return run_gateway(
        url=args.url,
        processes=args.processes,
        partitions=args.partitions,
        first_partition=args.first_partition,
    )


def cmd_device_provision(args: argparse.Namespace) -> int:
    _setup()
    from openvend.simulator.cli import run_provision

    return run_provision(
        merchant=args.merchant, count=args.count, prefix=args.prefix, site=args.site, url=args.url
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    _setup()
    from openvend.simulator.cli import run_simulate

    return run_simulate(
        devices=args.devices,
        merchant=args.merchant,
        url=args.url,
        heartbeat=args.heartbeat,
        telemetry=args.telemetry,
        duration=args.duration,
        prefix=args.prefix,
        seed=args.seed,
        media=args.media,
    )


def cmd_planogram(args: argparse.Namespace) -> int:
    from openvend.recognition import planogram_cli

    if args.planogram_command == "check":
        return planogram_cli.run_check(args.planogram)
    return planogram_cli.run_optimize(args.products, args.sensors, out_path=args.out, seed=args.seed)


def cmd_recognize(args: argparse.Namespace) -> int:
    # Pure Python: no django.setup() on this path.
    from openvend.recognition.cli import run_recognize

    return run_recognize(args.planogram, args.evidence, threshold=args.threshold, out=args.out)


def cmd_sandbox(args: argparse.Namespace) -> int:
    # The sandboxes stand alone: no Django on this path.
    if args.provider == "wechat":
        from openvend.sandbox.wechat import main as run_wechat

        return run_wechat(host=args.host, port=args.port, time_scale=args.time_scale) or 0
    from openvend.sandbox.alipay import main as run_alipay

    return run_alipay(host=args.host, port=args.port, time_scale=args.time_scale) or 0


def cmd_manage(args: argparse.Namespace) -> int:
    _setup()
    _manage(*args.extra)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openvend", description="OpenVend unattended-retail platform")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the embedded default with demo data")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="set up and seed, then exit")
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="serve the web app with gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=2)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    worker = sub.add_parser("worker", help="run the background task worker")
    worker.add_argument("extra", nargs=argparse.REMAINDER)
    worker.set_defaults(func=cmd_worker)

    bench = sub.add_parser("bench", help="run a benchmark")
    bench.add_argument("name", nargs="?", default="")
    bench.add_argument("--list", action="store_true")
    bench.set_defaults(func=cmd_bench)

    gateway = sub.add_parser("gateway", help="run the MQTT gateway (device messages in, commands out)")
    gateway.add_argument("--url", default="", help="broker URL (default: MQTT_URL)")
    gateway.add_argument(
        "--processes", type=int, default=1, help="gateway processes on this host (restarted if they die)"
    )
    gateway.add_argument(
        "--partitions",
        type=int,
        default=0,
        help="partitioned routing: gateway processes on all hosts together (default: --processes)",
    )
    gateway.add_argument(
        "--first-partition",
        type=int,
        default=0,
        help="partitioned routing: the partition of this host's first process (default 0)",
    )
    gateway.set_defaults(func=cmd_gateway)

    device = sub.add_parser("device", help="device tools")
    device_sub = device.add_subparsers(dest="device_command", required=True)
    provision = device_sub.add_parser(
        "provision", help="register and activate simulated devices; print their credentials as JSON"
    )
    provision.add_argument("--merchant", default=None, help="merchant code (default: the first active)")
    provision.add_argument("--count", type=int, default=1)
    provision.add_argument("--prefix", default="SIM", help="device codes are PREFIX-0001, PREFIX-0002, …")
    provision.add_argument("--site", default=None, help="site code of the merchant")
    provision.add_argument("--url", default="", help="broker URL to print (default: MQTT_URL)")
    provision.set_defaults(func=cmd_device_provision)

    simulate = sub.add_parser("simulate", help="run simulated devices against the broker")
    simulate.add_argument("--devices", type=int, required=True)
    simulate.add_argument("--merchant", default=None, help="merchant code (default: the first active)")
    simulate.add_argument(
        "--url", default="", help="broker URL (default: MQTT_URL, else the demo's embedded broker)"
    )
    simulate.add_argument("--heartbeat", type=float, default=30.0, help="seconds between heartbeats")
    simulate.add_argument("--telemetry", type=float, default=60.0, help="seconds between telemetry reports")
    simulate.add_argument("--duration", type=float, default=None, help="stop after SECONDS (default: Ctrl-C)")
    simulate.add_argument("--prefix", default="SIM")
    simulate.add_argument("--seed", type=int, default=0, help="seed of the simulated sensor noise")
    simulate.add_argument(
        "--media", action="store_true", help="cabinets with a camera report a still of every door session"
    )
    simulate.set_defaults(func=cmd_simulate)

    planogram = sub.add_parser("planogram", help="check or optimise a weight-sensor planogram")
    planogram_sub = planogram.add_subparsers(dest="planogram_command", required=True)
    pcheck = planogram_sub.add_parser("check", help="print confusable combinations and predicted accuracy")
    pcheck.add_argument("--planogram", required=True, help="planogram JSON file")
    pcheck.set_defaults(func=cmd_planogram)
    popt = planogram_sub.add_parser("optimize", help="assign products to sensors for the best accuracy")
    popt.add_argument("--products", required=True, help="products JSON file")
    popt.add_argument("--sensors", required=True, help="sensors JSON file")
    popt.add_argument("--out", default=None, help="write the planogram here instead of stdout")
    popt.add_argument("--seed", type=int, default=0)
    popt.set_defaults(func=cmd_planogram)

    recog = sub.add_parser("recognize", help="decide what each session took (result JSON lines)")
    recog.add_argument("--planogram", required=True, help="planogram JSON file")
    recog.add_argument("--evidence", required=True, help="evidence JSON lines, one session a line")
    recog.add_argument("--threshold", type=float, default=0.99, help="accept at or above this confidence")
    recog.add_argument("--out", default=None, help="write results here instead of stdout")
    recog.set_defaults(func=cmd_recognize)

    sandbox = sub.add_parser("sandbox", help="run a local payment gateway (WeChat Pay v3 or Alipay)")
    sandbox.add_argument("provider", choices=["wechat", "alipay"])
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=0, help="0 picks a free port")
    sandbox.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="shrink the notification retry schedule (0.01 turns minutes into seconds)",
    )
    sandbox.set_defaults(func=cmd_sandbox)

    manage = sub.add_parser("manage", help="run a Django management command")
    manage.add_argument("extra", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from openvend.audit import context

    # Changes made from the command line are audited as such.
    token = context.activate(context.AuditContext(channel="cli"))
    try:
        return int(args.func(args) or 0)
    finally:
        context.reset(token)


if __name__ == "__main__":
    sys.exit(main())
