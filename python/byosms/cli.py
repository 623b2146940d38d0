"""The `byosms` command line."""

from __future__ import annotations

import argparse
import sys

from byosms import __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="byosms",
        description="byosms: bring-your-own-SMS gateway (SMPP 3.4 and HTTP SMS providers "
        "behind one websocket API).",
    )
    parser.add_argument("--version", action="version", version=f"byosms {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    check = sub.add_parser(
        "selfcheck",
        help="exercise the Rust core (every SMPP PDU type, charsets, segmentation, receipts) "
        "and print what it did",
        description="Encode and decode every SMPP 3.4 PDU type, a GSM-7, a UCS-2 and a long "
        "concatenated message, and a delivery receipt through byosms._core, checking each "
        "result. Exits non-zero if any check fails.",
    )
    check.add_argument(
        "-q", "--quiet", action="store_true", help="print only failures and the summary line"
    )
    check.set_defaults(func=_selfcheck)
    _add_smsc_sim(sub)
    _add_gateway_commands(sub)
    from byosms.admin_cli import add_admin_commands

    add_admin_commands(sub)
    return parser


def _add_smsc_sim(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sim = sub.add_parser(
        "smsc-sim",
        help="run the SMSC simulator (an SMPP 3.4 server for tests, benches and demos)",
        description="Serve SMPP 3.4 on HOST:PORT until Ctrl-C: accept binds with the configured "
        "credentials, answer submit_sm/data_sm with message ids, send a delivery receipt per "
        "segment, inject faults at the given rates. Prints 'listening on HOST:PORT (tls|tcp)' "
        "once ready and the counters on exit.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sim.add_argument(
        "--port", type=int, default=2776, help="port to listen on (0: pick a free one)"
    )
    tls = sim.add_argument_group("TLS (plain TCP when none of these is given)")
    tls.add_argument("--tls-cert", metavar="PEM", help="server certificate chain (PEM)")
    tls.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert (PEM)")
    tls.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="make a throwaway CA and server certificate for --host (needs the trustme "
        "package); clients must trust the CA written to --tls-ca-out",
    )
    tls.add_argument(
        "--tls-ca-out",
        metavar="PEM",
        default="smsc-sim-ca.pem",
        help="where --tls-self-signed writes its CA certificate",
    )
    acct = sim.add_argument_group("accounts")
    acct.add_argument("--system-id", default="byosms", help="system_id accepted for binds")
    acct.add_argument("--password", default="secret", help="password of --system-id")
    acct.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="SYSTEM_ID:PASSWORD",
        help="an additional account (repeatable)",
    )
    acct.add_argument(
        "--max-binds", type=int, default=None, help="binds allowed per system_id (default: no limit)"
    )
    msg = sim.add_argument_group("messages and receipts")
    msg.add_argument(
        "--id-format", choices=("hex", "decimal"), default="hex", help="message id format"
    )
    msg.add_argument(
        "--receipt-id-format",
        choices=("hex", "decimal"),
        default=None,
        help="message id format inside receipts (default: --id-format)",
    )
    msg.add_argument(
        "--receipt-delay",
        default="0",
        metavar="SECONDS|LOW,HIGH",
        help="delay from submit to receipt: fixed, or uniformly random between LOW and HIGH",
    )
    msg.add_argument(
        "--final-state",
        default="DELIVRD",
        metavar="SPEC",
        help="receipt final states: a stat (DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, "
        "ACCEPTD, UNKNOWN), optionally STAT:ERR, or weights like "
        "'DELIVRD=0.9,UNDELIV:001=0.05,EXPIRED=0.05'",
    )
    msg.add_argument(
        "--receipt-route",
        choices=("same", "other", "any"),
        default="same",
        help="which bind of the system_id gets a receipt: the submitting one, preferably "
        "another one, or round robin",
    )
    msg.add_argument(
        "--enquire-link-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="also send enquire_link to every bind this often",
    )
    faults = sim.add_argument_group("fault injection (rates are per-message probabilities 0..1)")
    faults.add_argument(
        "--fail-rate", type=float, default=0.0, help="answer submit_sm with --fail-status"
    )
    faults.add_argument(
        "--fail-status",
        type=lambda v: int(v, 0),
        default=0x08,
        metavar="STATUS",
        help="command_status for --fail-rate (decimal or 0x hex; default ESME_RSYSERR)",
    )
    faults.add_argument(
        "--throttle-rate", type=float, default=0.0, help="answer submit_sm with ESME_RTHROTTLED"
    )
    faults.add_argument(
        "--queue-full-rate", type=float, default=0.0, help="answer submit_sm with ESME_RMSGQFUL"
    )
    faults.add_argument(
        "--response-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="answer every request this much later (a slow SMSC)",
    )
    sim.add_argument("--seed", type=int, default=None, help="random seed (rates, weights, delays)")
    sim.add_argument(
        "--stats-interval",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="print the counters this often (0: only on exit)",
    )
    sim.set_defaults(func=_smsc_sim)


def _add_gateway_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser(
        "serve",
        help="run the gateway (websocket API, web app, SMPP/Twilio integrations)",
        description="Run the gateway until Ctrl-C / SIGTERM. Prints where the websocket API "
        "and the web app (admin REST API, provider webhooks, /healthz) listen and how to "
        "create an API key. Without --config it runs the embedded default: a SQLite file "
        "byosms.db in the current directory and the built-in SMSC simulator.",
    )
    serve.add_argument(
        "--config", metavar="FILE", help="gateway configuration (TOML); default: embedded"
    )
    serve.set_defaults(func=_serve)

    apikey = sub.add_parser(
        "apikey",
        help="manage the API keys applications use",
        description="API keys authenticate websocket and admin REST clients; each belongs "
        "to one business unit.",
    )
    apikey_sub = apikey.add_subparsers(dest="apikey_command", metavar="ACTION")
    apikey_sub.required = True
    create = apikey_sub.add_parser(
        "create",
        help="create an API key and print its token (shown once, stored hashed)",
        description="Create an API key in the store of --config (or of the embedded "
        "default) and print the token. The token is not stored: keep it.",
    )
    create.add_argument(
        "--business-unit", required=True, metavar="BU", help="business unit the key acts for"
    )
    create.add_argument("--name", required=True, help="a name to recognise the key by")
    create.add_argument(
        "--config", metavar="FILE", help="gateway configuration (TOML); default: embedded"
    )
    create.set_defaults(func=_apikey_create)

    demo = sub.add_parser(
        "demo",
        help="run the simulator and the gateway, send and receive messages, show the events",
        description="Start the SMSC simulator and the gateway on the embedded defaults "
        "(free ports, a temporary folder), then through the websocket client: send a GSM, "
        "a UCS-2 and a 3-part message and show them accepted and delivered; have the "
        "simulator send an inbound message and a STOP and show the events and the opt-out. "
        "Exits 0 when everything happened, non-zero with the reason otherwise.",
    )
    demo.add_argument(
        "--data-dir", metavar="DIR", help="keep the database here (default: a temporary folder)"
    )
    demo.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS",
        help="give up (exit 1) if a step has not happened within this long",
    )
    demo.set_defaults(func=_demo)


def _load(config: str | None):  # type: ignore[no-untyped-def]
    from pathlib import Path

    from byosms.schemas.config import load_config

    if config is None:
        return load_config(None), Path.cwd()
    path = Path(config)
    return load_config(path), path.resolve().parent


def _setup_logging(level: str) -> None:
    import logging

    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _serve(args: argparse.Namespace) -> int:
    import signal

    import trio

    from byosms.server import Gateway
    from byosms.schemas.smpp import ConfigError
    from byosms.tuning import tune_process

    try:
        config, base = _load(args.config)
    except ConfigError as e:
        print(f"byosms serve: {e}", file=sys.stderr)
        return 2
    _setup_logging(config.log_level)
    gw = Gateway(config, base_dir=base)

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(gw.run)
                tune_process()
                ws, web = config.websocket, config.web
                cfg = f" --config {args.config}" if args.config else ""
                print(f"websocket API: ws://{ws.host}:{gw.ws_port}/", flush=True)
                print(f"web (admin REST /admin/v1, webhooks, /healthz): "
                      f"http://{web.host}:{gw.web_port}/", flush=True)
                if gw.simulator is not None:
                    print(f"SMSC simulator: 127.0.0.1:{gw.simulator.port}", flush=True)
                print(f"store: {gw.db_path()}", flush=True)
                print(f"create an API key: byosms apikey create --business-unit default "
                      f"--name NAME{cfg}", flush=True)
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break

    try:
        trio.run(main)
    except BaseException as e:
        failure = _startup_failure(e)
        if failure is None:
            raise
        code, line = failure
        print(f"byosms serve: {line}", file=sys.stderr)
        return code
    return 0


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, in order."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for e in exc.exceptions for leaf in _leaves(e)]
    return [exc]


def _startup_failure(exc: BaseException) -> tuple[int, str] | None:
    """(exit status, one line) for a failure the operator can act on: 2 for
    the configuration (a bad value, the secret key), 1 for the running
    system (the store can't be opened or written, a port in use); None for
    anything else (a bug: its traceback is worth showing)."""
    import sqlite3

    from byosms.schemas.smpp import ConfigError
    from byosms.server import GatewayConfigError, GatewayError
    from byosms.store import SecretKeyError

    leaves = _leaves(exc)
    for leaf in leaves:
        if isinstance(leaf, (ConfigError, GatewayConfigError, SecretKeyError)):
            return 2, str(leaf)
    for leaf in leaves:
        if isinstance(leaf, GatewayError):
            return 1, str(leaf)
        if isinstance(leaf, sqlite3.Error):
            return 1, f"the store failed: {leaf}"
        if isinstance(leaf, OSError) and leaf.strerror:
            where = f" {leaf.filename}" if leaf.filename else ""
            return 1, f"{leaf.strerror}{where}"
    return None


def _apikey_create(args: argparse.Namespace) -> int:
    import trio

    from byosms.server import Gateway
    from byosms.schemas.smpp import ConfigError
    from byosms.store import SecretKeyError

    try:
        config, base = _load(args.config)
    except ConfigError as e:
        print(f"byosms apikey: {e}", file=sys.stderr)
        return 2
    gw = Gateway(config, base_dir=base)

    async def main() -> str:
        async with gw.open_store() as store:
            key, token = await store.create_api_key(args.business_unit, args.name)
            return f"{token}\n(id {key.id}, business unit {key.business_unit}; " \
                f"the token is shown only now)"

    try:
        print(trio.run(main))
    except SecretKeyError as e:
        print(f"byosms apikey: {e}", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from byosms.demo import run

    return run(data_dir=args.data_dir, timeout=args.timeout)


def _parse_final_state(spec: str) -> object:
    def one(item: str) -> str | tuple[str, str]:
        stat, _, err = item.partition(":")
        return (stat.strip(), err.strip()) if err else stat.strip()

    if "=" not in spec:
        return one(spec)
    weights: dict[object, float] = {}
    for item in spec.split(","):
        key, _, weight = item.partition("=")
        weights[one(key)] = float(weight)
    return weights


def _smsc_sim(args: argparse.Namespace) -> int:
    import json
    import signal
    import ssl

    import trio

    from byosms.testing.smsc import SmscSimulator, make_server_context

    if args.receipt_delay and "," in args.receipt_delay:
        low, high = (float(v) for v in args.receipt_delay.split(",", 1))
        delay: float | tuple[float, float] = (low, high)
    else:
        delay = float(args.receipt_delay)
    accounts = {}
    for item in args.account:
        sid, sep, pw = item.partition(":")
        if not sep:
            raise SystemExit(f"--account wants SYSTEM_ID:PASSWORD, got {item!r}")
        accounts[sid] = pw
    ctx: ssl.SSLContext | None = None
    if args.tls_self_signed:
        try:
            import trustme
        except ImportError:
            raise SystemExit("--tls-self-signed needs the trustme package (pip install trustme)")
        ca = trustme.CA()
        cert = ca.issue_cert(args.host, "localhost")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        ca.cert_pem.write_to_path(args.tls_ca_out)
        print(f"self-signed: trust the CA in {args.tls_ca_out}", flush=True)
    elif args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise SystemExit("--tls-cert and --tls-key go together")
        ctx = make_server_context(args.tls_cert, args.tls_key)
    sim = SmscSimulator(
        system_id=args.system_id,
        password=args.password,
        accounts=accounts,
        host=args.host,
        port=args.port,
        ssl_context=ctx,
        id_format=args.id_format,
        receipt_id_format=args.receipt_id_format,
        receipt_delay=delay,
        final_state=_parse_final_state(args.final_state),
        receipt_route=args.receipt_route,
        max_binds=args.max_binds,
        enquire_link_interval=args.enquire_link_interval,
        seed=args.seed,
    )
    sim.faults.fail_rate = args.fail_rate
    sim.faults.fail_status = args.fail_status
    sim.faults.throttle_rate = args.throttle_rate
    sim.faults.queue_full_rate = args.queue_full_rate
    sim.faults.response_delay = args.response_delay

    async def print_stats() -> None:
        while True:
            await trio.sleep(args.stats_interval)
            print(json.dumps(sim.stats.as_dict()), flush=True)

    async def main() -> None:
        # Ctrl-C / SIGTERM stop the server by cancellation, so connections close cleanly.
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(sim.serve)
                print(
                    f"listening on {args.host}:{sim.port} ({'tls' if ctx else 'tcp'})",
                    flush=True,
                )
                if args.stats_interval > 0:
                    nursery.start_soon(print_stats)
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break

    trio.run(main)
    print(json.dumps(sim.stats.as_dict()), flush=True)
    return 0


def _selfcheck(args: argparse.Namespace) -> int:
    from byosms.selfcheck import run

    return run(quiet=args.quiet)


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
