"""`billbridge config load FILE | show`: the tax table and legal entity -> ERP instance routing."""

from __future__ import annotations

import argparse

from billbridge.cli.output import emit, print_json
from billbridge.cli.target import add_target_options, local_read_store, open_hub
from billbridge.local import read_models

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any


def register(subparsers: Any) -> None:
    config = subparsers.add_parser("config", help="the hub's billing configuration (tax table, legal entities)")
    commands = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    load = commands.add_parser("load", help="store a configuration document (a scenario's `config` schema)")
    load.add_argument("file")
    add_target_options(load, output=False)
    load.set_defaults(handler=load_command)
    show = commands.add_parser("show", help="print the configuration in force")
    add_target_options(show)
    show.set_defaults(handler=show_command)
    config.set_defaults(handler=lambda args: (config.print_help(), 2)[1])


def load_command(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from billbridge.app.billing_config_document import billing_config_from
    from billbridge.app.event_translation import UntranslatableEventError

    document = json.loads(Path(args.file).read_text(encoding="utf-8"))
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
    """The configuration document (JSON also for `--output table`: it is a document, not a table)."""
    with local_read_store(args) as store:
        document = None if store is None else read_models.stored_config_document(store)
    if document is None:  # a deployed stack, or nothing loaded yet: the hub's own reading (and its defaults)
        from billbridge.app.billing_config_document import billing_config_to_document

        with open_hub(args, read_only=True) as hub:
            document = billing_config_to_document(hub.ledger.load_config())
    emit(args, document, lambda: print_json(document))
    return 0
