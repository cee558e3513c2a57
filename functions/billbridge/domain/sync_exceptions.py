"""Downstream commands that need an operator: a refused or failed command is
held as an exception of its contract (`sync_refused`, `sync_failed`), one per
command, and resolved when the same command is acknowledged."""

from __future__ import annotations

from decimal import Decimal

from billbridge.domain.book_draft import BookDraft, RuleContext
from billbridge.domain.downstream_commands import CommandState, DownstreamCommand
from billbridge.domain.model import BookUpdate, ContractBook, ExceptionType

MAX_DETAIL_CHARS = 1000


def exception_type_of(command: DownstreamCommand) -> ExceptionType | None:
    if command.state is CommandState.REFUSED:
        return ExceptionType.SYNC_REFUSED
    if command.state is CommandState.FAILED:
        return ExceptionType.SYNC_FAILED
    return None


def hold_command(book: ContractBook, command: DownstreamCommand, context: RuleContext) -> BookUpdate:
    """Raise (or update) the exception of a refused or failed command; the other
    type of the same command, if open, is withdrawn (a refusal after a failure)."""
    draft = BookDraft(book, context)
    held = exception_type_of(command)
    if held is None:
        return BookUpdate.unchanged(book)
    other = ExceptionType.SYNC_FAILED if held is ExceptionType.SYNC_REFUSED else ExceptionType.SYNC_REFUSED
    draft.withdraw_exception(other, command.command_id, f"the command was {command.state.value} since")
    draft.raise_exception(
        held,
        command.command_id,
        refs=(command.command_id,),
        amount=Decimal(0),
        detail=f"{command.target} {command.name} {command.state.value}: {command.answer}"[:MAX_DETAIL_CHARS],
        contract_version=command.contract_version,
    )
    return draft.freeze()


def release_command(book: ContractBook, command: DownstreamCommand, context: RuleContext) -> BookUpdate:
    """The command was acknowledged: its open exception, if any, is resolved."""
    draft = BookDraft(book, context)
    why = f"acknowledged by {command.target}" + (f" as {command.reference}" if command.reference else "")
    for exception_type in (ExceptionType.SYNC_REFUSED, ExceptionType.SYNC_FAILED):
        draft.resolve_exception(exception_type, command.command_id, why)
    return draft.freeze()
