"""Every CLI flag is documented in --help (a public contract), and the
commands that need no network run."""

import argparse
import subprocess
import sys

from byosms import cli


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_flag_has_help():
    for parser in _parsers(cli._build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help and action.help.strip(), (parser.prog, action.option_strings)


def test_every_command_has_help():
    parser = cli._build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for choice in sub._choices_actions:
        assert choice.help, choice.dest
    assert {"selfcheck", "smsc-sim"} <= set(sub.choices)


def test_selfcheck_runs():
    out = subprocess.run([sys.executable, "-m", "byosms", "selfcheck"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0 failed" in out.stdout
