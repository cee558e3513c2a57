"""`billbridge migrate-ledger [--dry-run]`: move contract books stored as one
`BOOK` item (docs/decisions/0001-ledger-storage.md) to the item-per-input layout
(docs/decisions/0003-ledger-storage-at-scale.md), on the local state or a
deployed stack (`--stack NAME`).

One contract at a time, under the contract's fence: its items are written and
the `BOOK` item deleted in the last transaction, on the condition that its
revision is the one read, so running it again (or alongside the functions,
which move a contract themselves the first time they change it) moves nothing
twice. Exceptions, audit items and lookups keep their shape.

It also marks the lookup of every entry whose rejection was parked before the
entry arrived, under a version that did not mark them
(docs/decisions/0020-cost-per-entry-cut.md): run it when deploying that version.
"""

from __future__ import annotations

import argparse
from typing import Any

from billbridge.cli.output import emit, wants_document
from billbridge.cli.target import add_target_options, open_hub


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "migrate-ledger", help="move books stored as one item per contract to the item-per-input layout"
    )
    parser.add_argument("--dry-run", action="store_true", help="list the contracts to move, move nothing")
    add_target_options(parser)
    parser.set_defaults(handler=migrate_command)


def migrate_command(args: argparse.Namespace) -> int:
    with open_hub(args) as hub:
        pending = hub.ledger.legacy_contract_ids()
        moved: list[str] = []
        if not args.dry_run:
            for contract_id in pending:
                if hub.ledger.migrate_contract(contract_id):
                    moved.append(contract_id)
            kept = hub.ledger.mark_kept_rejections()
            hub.changed = bool(moved) or bool(kept["marked"] or kept["stored"])
        else:
            kept = {"marked": [], "stored": []}
        left = hub.ledger.legacy_contract_ids()
    result = {
        "found": pending,
        "moved": moved,
        "left": left,
        "dry_run": bool(args.dry_run),
        "kept_rejections_marked": kept["marked"],
        "kept_rejections_of_stored_entries": kept["stored"],
    }
    if wants_document(args):
        emit(args, result, lambda: None)
    else:
        verb = "would move" if args.dry_run else "moved"
        count = len(pending) if args.dry_run else len(moved)
        print(f"{verb} {count} contract book(s); {len(left)} left in the one-item layout")
        if kept["marked"] or kept["stored"]:
            print(f"marked {len(kept['marked'])} entry lookup(s) for rejections kept before their entry")
        for entry_id in kept["stored"]:
            print(f"entry {entry_id} is stored and a rejection of it is still parked: send the rejection again")
    return 0 if args.dry_run or not left else 1
