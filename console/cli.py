"""The ``groupwatch`` command."""
from __future__ import annotations

import argparse
import sys

from console import __version__

EXIT_USAGE = 2


# Subcommands repeat the global options so they can go either side of the command;
# SUPPRESS keeps a subcommand's unset option from erasing the global one.
def _demo_options(p: argparse.ArgumentParser, top: bool = False) -> None:
    d = None if top else argparse.SUPPRESS
    g = p.add_argument_group("demo (used when no connector is configured)")
    g.add_argument("--seed", type=int, default=d, help="simulation seed (default 7)")
    g.add_argument("--speed", type=float, default=d, help="simulated seconds per real second (default 60)")
    g.add_argument("--groups", type=int, default=d, help="number of simulated groups, 1-2000 (default 40)")


def _common(p: argparse.ArgumentParser, top: bool = False) -> None:
    d = None if top else argparse.SUPPRESS
    p.add_argument("--config", metavar="FILE", default=d,
                   help="TOML config (default: groupwatch.toml in the user config dir)")
    p.add_argument("--data-dir", metavar="DIR", default=d,
                   help="state directory (default: $GROUPWATCH_HOME or the user data dir)")
    p.add_argument("--recover", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="if a state file is damaged, set it aside and start from the last good copy")
    p.add_argument("--read-only", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="watch only: every action is refused with a message")
    p.add_argument("--connect", metavar="PATH", default=d,
                   help="attach to the groupwatch service listening on this socket (e.g. one forwarded "
                        "over SSH) instead of the data dir's")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="groupwatch", description=(
        "Watch many chat groups live: ads, silent members and groups, churn spikes. "
        "With no config it runs on a built-in simulated fleet (the demo)."))
    p.add_argument("--version", action="version", version=f"groupwatch {__version__}")
    _common(p, top=True)
    _demo_options(p, top=True)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    w = sub.add_parser("watch", help="run the engine; --headless prints alerts as they change")
    _common(w)
    _demo_options(w)
    w.add_argument("--headless", action="store_true", help="no console: print each new or changed alert")
    w.add_argument("--seconds", type=float, help="stop after this many seconds (demo: simulated at --speed)")
    w.add_argument("--format", choices=("text", "jsonl"), default="text", help="headless output (default text)")
    w.add_argument("--fast", action="store_true", help="demo only: simulate without waiting for the wall clock")

    r = sub.add_parser("report", help="the weekly tiering report, worst groups first")
    _common(r)
    _demo_options(r)
    r.add_argument("--format", choices=("table", "json", "csv", "markdown"), default="table")
    r.add_argument("--team", action="store_true",
                   help="the team's work instead: per operator incidents claimed, acknowledged and resolved, "
                        "median time to acknowledge, actions taken")
    r.add_argument("--since", metavar="WHEN",
                   help="with --team: since WHEN, ISO 8601 or a duration ago (default 7d)")

    b = sub.add_parser("bench", help="benchmarks that print machine-readable results")
    bsub = b.add_subparsers(dest="bench", metavar="BENCH", required=True)
    bi = bsub.add_parser("ingest", help="events per second through every detector and the store")
    bi.add_argument("--groups", type=int, default=1000)
    bi.add_argument("--events", type=int, default=200_000)
    bi.add_argument("--seed", type=int, default=7)
    bi.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    bi.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                    help="also checkpoint after every N events, as a running engine does (0: once, at the end)")
    bi.add_argument("--against", metavar="REV",
                    help="also run git commit REV's bench in the same run, alternating, --repeat times each, "
                         "and print both medians and their ratio")
    bi.add_argument("--format", choices=("json", "text"), default="text")
    bu = bsub.add_parser("ui", help="key-press-to-screen latency of the console under a live event load")
    bu.add_argument("--groups", type=int, default=1000)
    bu.add_argument("--rate", type=float, default=500.0, help="events per second fed to the engine")
    bu.add_argument("--presses", type=int, default=120, help="key presses measured")
    bu.add_argument("--seed", type=int, default=7)
    bu.add_argument("--mode", choices=("both", "embedded", "attached"), default="both",
                    help="the engine in the console's process, attached over the socket to a service, or both")
    bu.add_argument("--consoles", type=int, default=0,
                    help="also measure what this many attached consoles cost the service's ingest")
    bu.add_argument("--format", choices=("json", "text"), default="text")
    bs = bsub.add_parser("soak", help="engine and console under load for minutes: events lost, alerts, memory, "
                                      "latency, errors")
    bs.add_argument("--groups", type=int, default=2000)
    bs.add_argument("--rate", type=float, default=1000.0, help="events per second fed to the engine")
    bs.add_argument("--minutes", type=float, default=10.0, help="wall minutes measured, after a short warm-up")
    bs.add_argument("--presses-per-minute", type=float, default=30.0, help="operator key presses timed")
    bs.add_argument("--seed", type=int, default=7)
    bs.add_argument("--traffic", type=float, default=1.0,
                    help="share of the demo's usual messages per simulated second: below 1 the same event "
                         "rate covers more simulated time (0.1: ten times as many simulated hours)")
    bs.add_argument("--embedded", action="store_true",
                    help="the engine in the measured console's process (default: the console attached over the "
                         "socket to a service in a process of its own, as operators run it)")
    bs.add_argument("--format", choices=("json", "text"), default="text")

    from console.commands import audit, blacklist, config, schedule, serve, silence, web

    for module in (serve, blacklist, schedule, audit, config, silence, web):
        module.add_parser(sub)
    from console import eval_ads

    eval_ads.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from console import logs
    from console.engine.actions.model import ActionError, ReadOnlyError
    from console.engine.config import ConfigError
    from console.engine.store import StoreError

    from console.commands import error, service_errors

    logging_before = logs.saved()
    logs.to_stderr()
    try:
        return _dispatch(args)
    except (ConfigError, StoreError, ActionError, ReadOnlyError) as e:
        print(f"groupwatch: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except service_errors() as e:  # no service on --connect, another protocol, a refused query: one line
        return error(str(e) or type(e).__name__)
    except KeyboardInterrupt:
        return 130
    finally:
        logs.restore(logging_before)


def _dispatch(args: argparse.Namespace) -> int:
    connect = getattr(args, "connect", None)
    if connect:
        from pathlib import Path

        if not Path(connect).expanduser().parent.is_dir():
            from console.commands import error

            return error(f"no groupwatch service at {connect} (no such directory)")
    if args.command == "serve":
        from console.commands import serve

        return serve.run(args)
    if args.command == "config":
        from console.commands import config

        return config.run(args)
    if args.command == "web":
        from console.commands import web

        return web.run(args)
    if args.command == "bench":
        from console import bench

        if args.bench == "soak":
            from console import bench_soak

            if (args.minutes <= 0 or not 1 <= args.groups <= 2000 or args.rate <= 0
                    or args.presses_per_minute < 0 or not 0 < args.traffic <= 10):
                print("groupwatch: error: --minutes above 0, --groups 1-2000, --rate above 0, "
                      "--presses-per-minute not negative, --traffic above 0 and at most 10", file=sys.stderr)
                return EXIT_USAGE
            bench.print_result(bench_soak.soak(args.groups, args.rate, args.minutes, args.seed,
                                               args.presses_per_minute, traffic=args.traffic,
                                               embedded=args.embedded), args.format)
            return 0
        if args.bench == "ui":
            from console import bench_ui

            if not 1 <= args.groups <= 2000 or args.rate <= 0 or args.presses < 1:
                print("groupwatch: error: --groups 1-2000, --rate above 0, --presses at least 1", file=sys.stderr)
                return EXIT_USAGE
            modes = ("embedded", "attached") if args.mode == "both" else (args.mode,)
            if not 0 <= args.consoles <= 200:
                print("groupwatch: error: --consoles 0-200", file=sys.stderr)
                return EXIT_USAGE
            bench.print_result(bench_ui.ui(args.groups, args.rate, args.presses, args.seed, modes=modes,
                                           consoles=args.consoles), args.format)
            return 0
        if args.events < 1 or not 1 <= args.groups <= 2000 or args.repeat < 1:
            print("groupwatch: error: --events and --repeat must be at least 1, --groups 1-2000", file=sys.stderr)
            return EXIT_USAGE
        if args.against:
            from console import bench_against

            child = ["--groups", str(args.groups), "--events", str(args.events), "--seed", str(args.seed),
                     "--repeat", "1", "--format", "json"]
            if args.checkpoint_every:
                child += ["--checkpoint-every", str(args.checkpoint_every)]
            try:
                result = bench_against.against(args.against, child, args.repeat)
            except bench_against.AgainstError as e:
                print(f"groupwatch: error: {e}", file=sys.stderr)
                return EXIT_USAGE
            bench.print_result({"bench": "ingest", "groups": args.groups, "events": args.events, **result},
                               args.format)
            return 0
        bench.print_result(bench.ingest(args.groups, args.events, args.seed, args.repeat, args.checkpoint_every),
                           args.format)
        return 0
    if args.command == "report":
        return _report(args)
    if args.command == "eval-ads":
        from console import eval_ads

        return eval_ads.run(args)
    if args.command in ("blacklist", "schedule", "audit", "silence"):
        import importlib

        # Through the service: the running one's socket, else the engine opened (and closed) here.
        return importlib.import_module(f"console.commands.{args.command}").run(args)
    if args.command == "watch" and args.headless:
        return _watch(args)
    if args.command == "watch" and args.fast:
        print("groupwatch: error: --fast needs --headless", file=sys.stderr)
        return EXIT_USAGE
    return _console(args)


def _watch(args: argparse.Namespace) -> int:
    if args.seconds is not None and args.seconds <= 0:
        print("groupwatch: error: --seconds must be above 0", file=sys.stderr)
        return EXIT_USAGE
    from console.commands import run_async

    return run_async(_watch_async(args))


async def _watch_async(args: argparse.Namespace) -> int:
    from console.headless import watch
    from console.service.attach import client_for

    # No service: the engine runs here (paced unless --fast); attached: follow the service's changes.
    async with client_for(args, session="cli watch", pace=not args.fast, current=False) as at:
        if at.runtime is None and args.fast:
            print("groupwatch: warning: --fast only applies to an engine run here; following the service",
                  file=sys.stderr)
        if not await watch(at, args.seconds, args.format):
            import os

            # The reader went away (``| head``): nothing more to say, and nothing to fail on at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _report(args: argparse.Namespace) -> int:
    from console.commands import error, run_async

    if args.team:
        from console.commands import report_team

        return report_team.run(args)
    if args.since is not None:
        return error("--since goes with --team (the tiering report is always the last 7 days)")
    return run_async(_report_async(args))


async def _report_async(args: argparse.Namespace) -> int:
    from rich.console import Console

    from console.report import render
    from console.service.attach import client_for

    async with client_for(args, session="cli report") as at:
        rows = await at.client.query("report")
        header = await at.client.query("header")
    label = " (DEMO: simulated groups)" if header.demo else ""
    console = Console(markup=False, highlight=False)
    render(rows, args.format, console, f"groupwatch weekly tiering report{label}")
    if args.format == "table":
        from console.report_retention import weekly_table

        retention = weekly_table(rows, header.now)
        if retention is not None:
            console.print(retention)
    return 0


def _console(args: argparse.Namespace) -> int:
    from console.commands import serve

    return serve.console(args)


if __name__ == "__main__":
    sys.exit(main())
