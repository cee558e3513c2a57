"""`billbridge config load FILE | show`: the tax table and legal entity -> ERP instance routing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from billbridge.cli.hub_target import add_target_options, open_hub, print_json


def register(subparsers: Any) -> None:
    config = subparsers.add_parser("config", help="the hub's billing configuration (tax table, legal entities)")
    commands = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    load = commands.add_parser("load", help="store a configuration document (a scenario's `config` schema)")
    load.add_argument("file", type=Path)
    add_target_options(load)
    load.set_defaults(handler=load_command)
    show = commands.add_parser("show", help="print the configuration in force")
    add_target_options(show)
    show.set_defaults(handler=show_command)
    config.set_defaults(handler=lambda args: (config.print_help(), 2)[1])


def load_command(args: argparse.Namespace) -> int:
    from billbridge.app.event_translation import UntranslatableEventError, billing_config_from

    document = json.loads(args.file.read_text(encoding="utf-8"))
    try:
        config = billing_config_from(document.get("config", document))
    except (UntranslatableEventError, KeyError) as error:
        print(f"{args.file}: {error}")
        return 2
    with open_hub(args) as hub:
        hub.ledger.save_config(config)
        hub.changed = True
    print(f"stored {len(config.tax_rates)} tax rate(s) and {len(config.legal_entities)} legal entity route(s)")
    return 0


def show_command(args: argparse.Namespace) -> int:
    from billbridge.app.event_translation import billing_config_to_document

    with open_hub(args, read_only=True) as hub:
        document = billing_config_to_document(hub.ledger.load_config())
    print_json(document)
    return 0
