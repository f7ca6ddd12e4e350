"""``python -m handoff capacity forecast``: contacts per interval for the coming days (docs/capacity.md).

::

    python -m handoff capacity forecast --history contacts.csv --days 7 --out forecast.csv
    python -m handoff capacity forecast --history contacts.csv --backtest --weeks 4   # WAPE: model vs week before
    python -m handoff capacity forecast --days 7 --interval 15 --channel web           # from the ticket log
    python -m handoff capacity forecast --tier 2 --backtest                            # tier-2 hand-offs

Without ``--history`` the history is the ticket log's (``DATABASE_URL``): the conversations started per interval
(those the bot finished alone included), or the hand-offs (``--handoffs``, ``--tier``), over the last
``--history-days`` whole days, with the business hours of the routing configuration; ``--save-history FILE``
writes that history in the ``--history`` format.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from handoff.core.errors import BadRequest
from handoff.core.forecast import Accuracy, backtest, forecast, open_series
from handoff.core.forecast_csv import read_history, write_forecast, write_history
from handoff.core.routing.schedule import BusinessHours
from handoff.settings import HandoffSettings

Series = list[tuple[datetime, float]]


def add_parser(group: Any) -> None:
    parser = group.add_parser("forecast", help="contacts per interval for the coming days (docs/capacity.md)")
    parser.add_argument("--history", type=Path, help="a CSV 'start,count' (default: the ticket log)")
    parser.add_argument("--days", type=int, default=7, help="open days to forecast (default 7)")
    parser.add_argument("--out", type=Path, help="where to write 'start,forecast' (default: standard output)")
    parser.add_argument("--backtest", action="store_true",
                        help="print the WAPE of the model and of the week-before baseline on the last weeks")
    parser.add_argument("--weeks", type=int, default=4, help="weeks the backtest rolls over (default 4)")
    parser.add_argument("--interval", type=int, choices=(15, 30), default=30,
                        help="minutes per interval, from the ticket log (default 30)")
    parser.add_argument("--history-days", type=int, default=84,
                        help="whole days of the ticket log to learn from (default 84)")
    parser.add_argument("--channel", help="only this channel's contacts (ticket log)")
    parser.add_argument("--tier", type=int, help="only the hand-offs of this tier (ticket log)")
    parser.add_argument("--handoffs", action="store_true", help="count hand-offs, not conversations (ticket log)")
    parser.add_argument("--save-history", type=Path,
                        help="also write the ticket log's history as a 'start,count' CSV (the --history format)")
    parser.set_defaults(run=run)


async def from_ticket_log(settings: HandoffSettings, args: argparse.Namespace,
                          hours: BusinessHours) -> Series:
    """Every interval the business hours open over the last ``--history-days`` whole local days, from the day of
    the first contact on, with its count (0 where none came)."""
    from handoff.adapters.tickets import TicketLog

    interval = timedelta(minutes=args.interval)
    today = datetime.fromtimestamp(time.time(), hours.tz).date()
    until = datetime.combine(today, datetime.min.time(), tzinfo=hours.tz)
    since = until - timedelta(days=args.history_days)
    if any(moment.timestamp() % (args.interval * 60) for moment in (since, until)):
        raise BadRequest(f"{hours.timezone}'s midnight is not on a {args.interval}-minute boundary of UTC, "
                         "which the ticket log counts in: use --interval 15.")
    log = await TicketLog.open(settings.database_url)
    try:
        counts = await log.contacts.per_interval(since, until, args.interval * 60, channel=args.channel,
                                                 tier=args.tier, handoffs=args.handoffs)
    finally:
        await log.close()
    return open_series(counts, since, until, interval, hours)


def accuracy_lines(accuracy: Accuracy) -> list[str]:
    return [f"backtest: rolling origin, one week ahead, over the last {accuracy.weeks} weeks "
            f"({accuracy.intervals} open intervals, {accuracy.contacts:.0f} contacts)",
            f"  model (Poisson GLM + weekday shapes)  WAPE {accuracy.model_wape:.1%}",
            f"  baseline (same interval a week before) WAPE {accuracy.baseline_wape:.1%}"]


async def run(settings: HandoffSettings, args: argparse.Namespace) -> int:
    if args.days < 1 or args.weeks < 1:
        raise BadRequest("--days and --weeks must be at least 1.")
    hours: BusinessHours | None = None
    naive = False
    if args.history is not None:
        if args.channel is not None or args.tier is not None or args.handoffs or args.save_history is not None:
            raise BadRequest("--channel, --tier, --handoffs and --save-history choose the ticket log's contacts: "
                             "a --history file has its own.")
        try:
            with args.history.open(encoding="utf-8") as lines:
                history = read_history(lines)
        except OSError as exc:
            raise BadRequest(f"Cannot read {args.history}: {exc.strerror}.") from None
        except ValueError as exc:
            raise BadRequest(f"{args.history}: {exc}") from None
        series, interval, naive = history.rows, history.interval, history.naive
    else:
        from handoff.core.routing import build_business_hours, load_routing_config

        hours = build_business_hours(load_routing_config(settings.routing_config))
        series, interval = await from_ticket_log(settings, args, hours), timedelta(minutes=args.interval)
        if not series:
            raise BadRequest("The ticket log has no contacts in that period to forecast from.")
        if args.save_history is not None:
            args.save_history.write_text("".join(write_history(series)), encoding="utf-8")
    try:
        if args.backtest:
            print("\n".join(accuracy_lines(backtest(series, interval, hours, args.weeks))))
        if args.out is not None or not args.backtest:
            rows = forecast(series, args.days, interval, hours)
            output = args.out.open("w", encoding="utf-8") if args.out is not None else sys.stdout
            try:
                output.writelines(write_forecast(rows, naive))
            finally:
                if args.out is not None:
                    output.close()
    except ValueError as exc:  # ForecastError: the history's own problem, as a sentence
        raise BadRequest(f"{args.history or 'the ticket log'}: {exc}") from None
    if args.out is not None:
        print(f"forecast: {len(rows)} intervals of {interval} over {args.days} open days written to {args.out}",
              file=sys.stderr)
    return 0
