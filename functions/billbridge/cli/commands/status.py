"""`billbridge status`: the phased-rollout switches, the system-of-record rules,
the customer master's enforcement, and what they refused or hold.

The switches and rules are the configuration the local stack runs with (the
`ROLLOUT` and `SYSTEMS_OF_RECORD` environment variables, as a deployment's
functions get them from cdk.json context); `--rollout` / `--systems-of-record`
show another configuration.
"""

from __future__ import annotations

import argparse

from billbridge.cli import environment
from billbridge.cli.output import emit, wants_document
from billbridge.cli.target import add_target_options, local_read_store, open_hub
from billbridge.local import read_models

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any


def register(subparsers: Any) -> None:
    status = subparsers.add_parser(
        "status", help="rollout switches per workflow and source, systems of record, customer master"
    )
    status.add_argument("--rollout", default=None, help="a rollout document to show instead of $ROLLOUT")
    status.add_argument(
        "--systems-of-record", default=None, help="a systems-of-record document instead of $SYSTEMS_OF_RECORD"
    )
    add_target_options(status)
    status.set_defaults(handler=status_command)


def status_document(
    rollout_text: str, systems_text: str, config_document: dict[str, Any], refusals: list[dict[str, str]]
) -> dict[str, Any]:
    from billbridge.app.rollout import Rollout
    from billbridge.app.system_of_record import SystemsOfRecord

    master = config_document.get("customer_master") or {}
    return {
        "rollout": Rollout.parse(rollout_text).document(),
        "systems_of_record": SystemsOfRecord.parse(systems_text).document(),
        "customer_master": {"enforced": bool(master.get("enforced", False)), "grace_days": master.get("grace_days")},
        "refused_deliveries": len(refusals),
        "last_refusals": refusals[-5:],
    }


def _default_config_document() -> dict[str, Any]:
    """What the hub runs with when no configuration was loaded."""
    from billbridge.app.billing_config_document import billing_config_to_document
    from billbridge.domain.model import BillingConfig

    return billing_config_to_document(BillingConfig())


def status_command(args: argparse.Namespace) -> int:
    from billbridge.app.rollout import InvalidRolloutError
    from billbridge.app.system_of_record import InvalidSystemsOfRecordError
    from billbridge.cli.tables import print_table

    rollout_text = args.rollout if args.rollout is not None else environment.configured_rollout()
    systems_text = (
        args.systems_of_record if args.systems_of_record is not None else environment.configured_systems_of_record()
    )
    with local_read_store(args) as store:
        if store is not None:
            config = read_models.stored_config_document(store) or _default_config_document()
            refusals = read_models.refusals(store)
    if store is None:
        from billbridge.adapters.dynamo_refusal_log import DynamoRefusalLog
        from billbridge.app.billing_config_document import billing_config_to_document

        with open_hub(args, read_only=True) as hub:
            config = billing_config_to_document(hub.ledger.load_config())
            refusals = DynamoRefusalLog(table_name=hub.ledger.table.table_name, client=hub.ledger.client).refusals()
    try:
        document = status_document(rollout_text, systems_text, config, refusals)
    except (InvalidRolloutError, InvalidSystemsOfRecordError) as error:
        print(f"billbridge status: {error}")
        return 2
    if wants_document(args):
        emit(args, document, lambda: None)
        return 0
    print("Phased rollout (off / shadow / on)")
    rows = [["workflow", name, mode] for name, mode in document["rollout"]["workflows"].items()]
    rows += [["source", name, mode] for name, mode in document["rollout"]["sources"].items()]
    print_table(["switch", "name", "mode"], rows)
    print("\nSystems of record")
    print_table(["domain", "source"], [[d, s] for d, s in document["systems_of_record"].items()])
    master = document["customer_master"]
    enforced = f"enforced, grace {master['grace_days']} day(s)" if master["enforced"] else "not enforced"
    print(f"\nCustomer master: {enforced}")
    print(f"Deliveries refused by a rule or switch: {document['refused_deliveries']}")
    if document["last_refusals"]:
        print_table(
            ["source", "event", "type", "rule", "attempts"],
            [
                [
                    r.get("source", ""),
                    r.get("event_id", ""),
                    r.get("event_type", ""),
                    r.get("rule", ""),
                    r.get("attempts", ""),
                ]
                for r in document["last_refusals"]
            ],
        )
    return 0
