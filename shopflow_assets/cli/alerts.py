"""`shopflow alert`: send one alert through the configured channels (what Airflow's notify tasks call)."""

from __future__ import annotations

import argparse
import logging


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "alert",
        help="send a run's outcome to the alert channels (log, webhook, e-mail) configured in the env",
    )
    parser.add_argument("--job", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--status", required=True, choices=("success", "failure"))
    parser.add_argument("--partition")
    parser.add_argument("--step")
    parser.add_argument("--error", default="", help="the error's first line (failures)")
    parser.set_defaults(func=_send)


def _send(args: argparse.Namespace) -> int:
    from shopflow_assets.resources import build_resources
    from shopflow_assets.resources.alerts import Alert

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    alerts = build_resources()["alerts"].process_config_and_initialize()
    alert = Alert(
        kind="run_success" if args.status == "success" else "run_failure",
        job=args.job,
        run_id=args.run_id,
        partition=args.partition,
        step=args.step,
        error=args.error,
    )
    print("sent via " + ", ".join(alerts.send(alert)))
    return 0
