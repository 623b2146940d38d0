"""`byosms integrations|numbers|events ...`: the admin REST API (web/admin.py)
from the command line. Talks HTTP to a running gateway (`--url`, `--api-key`
or $BYOSMS_API_KEY); prints JSON or a table.

Secrets (S9) never go on the command line (shell history, `ps`): a secret
field comes from the config file, `--secret-file FIELD=PATH`, or
`--prompt-secret FIELD` (read without echo).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx

def _secret_fields() -> frozenset[str]:
    """Config fields that are secrets for some provider of the registry."""
    from byosms.providers import registry

    return frozenset().union(*(spec.secret_fields for spec in registry.specs()))


def _provider_fields_help() -> str:
    """Every provider's configuration fields, for `integrations create --help`."""
    from byosms.providers import registry
    from byosms.providers.reference import fields

    lines = ["provider configuration fields (--config file, --set, --secret-file):"]
    for spec in registry.specs():
        lines.append(f"  {spec.name}: {spec.description}".rstrip(": "))
        lines += [f"    {n} ({k}; {d})" for n, k, d in fields(spec)]
    return "\n".join(lines)


DEFAULT_URL = "http://127.0.0.1:8080"
PREFIX = "/admin/v1"


class CliError(Exception):
    pass


# --- parser --------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection and output")
    g.add_argument("--url", default=os.environ.get("BYOSMS_URL", DEFAULT_URL),
                   help=f"base URL of the gateway's web server ($BYOSMS_URL, default {DEFAULT_URL})")
    g.add_argument("--api-key", default=None,
                   help="API key of the business unit (default: $BYOSMS_API_KEY; prefer the "
                   "variable, a flag shows in the process list)")
    g.add_argument("--output", "-o", choices=("table", "json"), default="table",
                   help="print a table (default) or the API's JSON")
    g.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds")


def _config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE",
                   help="provider configuration as a TOML or JSON file (by extension; "
                   "may hold secrets)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a config field (repeatable); VALUE is parsed as JSON when it can be "
                   "(20, true, [..]), else taken as text (quote to force text: id='\"123\"'). "
                   "Not for secrets")
    p.add_argument("--secret-file", action="append", default=[], metavar="FIELD=PATH",
                   help="read a secret field (password, auth_token) from a file; trailing "
                   "newline dropped (repeatable)")
    p.add_argument("--prompt-secret", action="append", default=[], metavar="FIELD",
                   help="ask for a secret field without echoing it (repeatable)")


def add_admin_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    integ = sub.add_parser("integrations", help="list, create, change, (de)activate and delete "
                           "integrations (admin API)",
                           description="Integrations of the API key's business unit.")
    isub = integ.add_subparsers(dest="action", metavar="ACTION")
    isub.required = True
    p = isub.add_parser("list", help="list the integrations")
    _common(p)
    p.set_defaults(func=run, admin_func=_integrations_list)
    for name, helptext, fn in (
        ("show", "show one integration (secrets masked)", _integration_get),
        ("activate", "activate: establish the binds (S10)", _integration_post),
        ("deactivate", "deactivate: close the binds, hold messages queued (S12)",
         _integration_post),
        ("delete", "delete: close the binds, remove its numbers, fail its queued messages",
         _integration_delete),
        ("addresses", "addresses the binds originate from, for the vendor's allow-list (S16)",
         _integration_get),
    ):
        p = isub.add_parser(name, help=helptext)
        p.add_argument("id", help="integration id")
        _common(p)
        p.set_defaults(func=run, admin_func=fn)
    from byosms.providers import registry

    p = isub.add_parser("create", help="create an integration from a config file and flags",
                        epilog=_provider_fields_help(),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--provider", required=True, choices=registry.names(),
                   help="provider: a built-in one or an installed plug-in's name")
    p.add_argument("--name", required=True, help="name, unique in the business unit")
    p.add_argument("--activate", action="store_true", help="activate it right away")
    _config_flags(p)
    _common(p)
    p.set_defaults(func=run, admin_func=_integration_create)
    p = isub.add_parser("update", help="rename or change the config (an active integration "
                        "re-binds)")
    p.add_argument("id", help="integration id")
    p.add_argument("--name", help="new name")
    p.add_argument("--unset", action="append", default=[], metavar="KEY",
                   help="restore a config field to its default (repeatable)")
    _config_flags(p)
    _common(p)
    p.set_defaults(func=run, admin_func=_integration_update)

    nums = sub.add_parser("numbers", help="list, import, change and remove numbers (admin API)",
                          description="The number inventory of the API key's business unit.")
    nsub = nums.add_subparsers(dest="action", metavar="ACTION")
    nsub.required = True
    p = nsub.add_parser("list", help="list the numbers")
    p.add_argument("--integration", help="only this integration's numbers")
    _common(p)
    p.set_defaults(func=run, admin_func=_numbers_list)
    p = nsub.add_parser("import", help="import one number into an integration (N1–N5)")
    p.add_argument("--integration", required=True, help="integration id")
    p.add_argument("--sender-id", required=True, help="E.164 number, short code digits or "
                   "alphanumeric sender ID")
    p.add_argument("--type", required=True,
                   choices=("local", "mobile", "toll_free", "short_code", "alphanumeric"),
                   help="number type")
    p.add_argument("--country", help="ISO 3166 alpha-2 country (required for short codes)")
    p.add_argument("--display-name", default="", help="label shown in lists")
    p.add_argument("--keywords", metavar="FILE", help="short codes: keyword sets and replies "
                   "(TOML or JSON: help, help_reply, opt_out, opt_out_reply, opt_in, opt_in_reply)")
    _common(p)
    p.set_defaults(func=run, admin_func=_numbers_import)
    p = nsub.add_parser("update", help="change display name, enabled flag or keywords")
    p.add_argument("number", help="the number as in the inventory")
    p.add_argument("--display-name", help="new label")
    en = p.add_mutually_exclusive_group()
    en.add_argument("--enable", dest="enabled", action="store_const", const=True, default=None,
                    help="enable the number")
    en.add_argument("--disable", dest="enabled", action="store_const", const=False,
                    help="disable the number")
    p.add_argument("--keywords", metavar="FILE", help="short codes: new keyword sets (TOML/JSON)")
    _common(p)
    p.set_defaults(func=run, admin_func=_numbers_update)
    p = nsub.add_parser("remove", help="remove a number from the inventory")
    p.add_argument("number", help="the number as in the inventory")
    _common(p)
    p.set_defaults(func=run, admin_func=_numbers_remove)

    ev = sub.add_parser("events", help="query the operational and message events (S17)",
                        description="Events of the API key's business unit.")
    esub = ev.add_subparsers(dest="action", metavar="ACTION")
    esub.required = True
    p = esub.add_parser("list", help="list events after a cursor")
    p.add_argument("--after", type=int, default=0, metavar="N", help="start after cursor N")
    p.add_argument("--type", choices=("status", "inbound", "operational", "keyword"),
                   help="only events of this type")
    p.add_argument("--limit", type=int, default=100, help="events per request (1–1000)")
    p.add_argument("--follow", "-f", action="store_true",
                   help="keep polling for new events until interrupted")
    p.add_argument("--interval", type=float, default=2.0,
                   help="seconds between polls with --follow")
    p.add_argument("--polls", type=int, default=None,
                   help="with --follow: stop after this many polls (default: never)")
    _common(p)
    p.set_defaults(func=run, admin_func=_events_list)


# --- HTTP ------------------------------------------------------------------------------


class _Api:
    def __init__(self, args: argparse.Namespace) -> None:
        key = args.api_key or os.environ.get("BYOSMS_API_KEY")
        if not key:
            raise CliError("no API key: set BYOSMS_API_KEY or give --api-key")
        self.client = httpx.Client(base_url=args.url.rstrip("/") + PREFIX,
                                   headers={"Authorization": f"Bearer {key}"},
                                   timeout=args.timeout)

    def __call__(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = self.client.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise CliError(f"cannot reach the gateway: {e}") from None
        if r.status_code == 204:
            return None
        try:
            body = r.json()
        except ValueError:
            raise CliError(f"HTTP {r.status_code}: {r.text[:200]}") from None
        if r.status_code >= 400:
            msg = f"{body.get('code', 'error')}: {body.get('message', '')}"
            if body.get("field"):
                msg += f" (field: {body['field']})"
            raise CliError(msg)
        return body


# --- input -------------------------------------------------------------------------------


def _read_doc(path: str) -> dict[str, Any]:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode()) if p.suffix.lower() == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:  # tomllib.TOMLDecodeError is a ValueError
        raise CliError(f"{path}: {e}") from None
    if not isinstance(doc, dict):
        raise CliError(f"{path}: expected a table / object")
    return doc


def _config(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = _read_doc(args.config) if args.config else {}
    for item in args.sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--set wants KEY=VALUE, got {item!r}")
        if key in _secret_fields():
            raise CliError(f"{key} is a secret: use --secret-file {key}=PATH or "
                           f"--prompt-secret {key}")
        try:
            config[key] = json.loads(value)
        except ValueError:
            config[key] = value
    for item in args.secret_file:
        field, sep, path = item.partition("=")
        if not sep:
            raise CliError(f"--secret-file wants FIELD=PATH, got {item!r}")
        try:
            config[field] = Path(path).read_text().rstrip("\r\n")
        except OSError as e:
            raise CliError(f"cannot read {path}: {e.strerror}") from None
    for field in args.prompt_secret:
        config[field] = getpass.getpass(f"{field}: ")
    return config


# --- output ------------------------------------------------------------------------------


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _show(args: argparse.Namespace, body: Any, columns: list[str] | None = None,
          key: str | None = None) -> None:
    if args.output == "json":
        print(json.dumps(body, indent=2))
        return
    if key is not None:
        print(_table(body[key], columns or []))
    elif columns is not None:
        print(_table([body], columns))
    else:
        for k, v in body.items():
            print(f"{k}: {_cell(v)}")


_INT_COLS = ["id", "name", "provider", "state"]
_NUM_COLS = ["number", "type", "integration", "display_name", "enabled", "usable"]


def _integrations_list(args: argparse.Namespace) -> int:
    _show(args, _Api(args)("GET", "/integrations"), _INT_COLS, "integrations")
    return 0


def _integration_get(args: argparse.Namespace) -> int:
    path = f"/integrations/{args.id}" + ("/addresses" if args.action == "addresses" else "")
    _show(args, _Api(args)("GET", path))
    return 0


def _integration_post(args: argparse.Namespace) -> int:
    _show(args, _Api(args)("POST", f"/integrations/{args.id}/{args.action}"), _INT_COLS)
    return 0


def _integration_delete(args: argparse.Namespace) -> int:
    _show(args, _Api(args)("DELETE", f"/integrations/{args.id}"), _INT_COLS)
    return 0


def _integration_create(args: argparse.Namespace) -> int:
    body = {"provider": args.provider, "name": args.name, "config": _config(args),
            "activate": args.activate}
    _show(args, _Api(args)("POST", "/integrations", json=body))
    return 0


def _integration_update(args: argparse.Namespace) -> int:
    config = _config(args)
    for key in args.unset:
        config[key] = None
    body: dict[str, Any] = {}
    if args.name is not None:
        body["name"] = args.name
    if config:
        body["config"] = config
    if not body:
        raise CliError("nothing to change: give --name, --config, --set, --unset or a secret")
    _show(args, _Api(args)("PATCH", f"/integrations/{args.id}", json=body))
    return 0


def _numbers_list(args: argparse.Namespace) -> int:
    params = {"integration": args.integration} if args.integration else None
    _show(args, _Api(args)("GET", "/numbers", params=params), _NUM_COLS, "numbers")
    return 0


def _numbers_import(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"integration": args.integration, "sender_id": args.sender_id,
                            "type": args.type, "display_name": args.display_name}
    if args.country:
        body["country"] = args.country
    if args.keywords:
        body["keywords"] = _read_doc(args.keywords)
    _show(args, _Api(args)("POST", "/numbers", json=body), _NUM_COLS)
    return 0


def _numbers_update(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.display_name is not None:
        body["display_name"] = args.display_name
    if args.enabled is not None:
        body["enabled"] = args.enabled
    if args.keywords:
        body["keywords"] = _read_doc(args.keywords)
    _show(args, _Api(args)("PATCH", f"/numbers/{args.number}", json=body), _NUM_COLS)
    return 0


def _numbers_remove(args: argparse.Namespace) -> int:
    _Api(args)("DELETE", f"/numbers/{args.number}")
    if args.output == "json":
        print(json.dumps({"removed": args.number}))
    else:
        print(f"removed {args.number}")
    return 0


def _events_list(args: argparse.Namespace) -> int:
    api = _Api(args)
    after, polls, header = args.after, 0, True
    while True:
        params: dict[str, Any] = {"after": after, "limit": args.limit}
        if args.type:
            params["type"] = args.type
        body = api("GET", "/events", params=params)
        polls += 1
        for e in body["events"]:
            if args.output == "json":
                print(json.dumps(e), flush=True)  # one JSON object per line: streamable
            else:
                if header:
                    print("CURSOR  TYPE         PAYLOAD")
                    header = False
                print(f"{e['cursor']:<7} {e['type']:<12} {_cell(e['payload'])}", flush=True)
        after = body["next_after"]
        if after > params["after"]:
            continue  # the cursor moved: there may be more right away, no sleep
        if not args.follow or (args.polls is not None and polls >= args.polls):
            return 0
        time.sleep(args.interval)


def run(args: argparse.Namespace) -> int:
    try:
        return int(args.admin_func(args) or 0)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
