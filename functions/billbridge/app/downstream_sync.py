"""Use case: send a command to a downstream system and record what became of it.

Every command (project upsert, billing-schedule upsert, termination, invoice
status) goes through `DownstreamSync.send`: the attempt is recorded (`sent`)
before the connector is called, then the connector's typed outcome is recorded:

- accepted with the system's id: `acknowledged`; the id goes to the contract's
  id map (the only way a system id gets there);
- accepted, answer to follow (the `event` connector, or HTTP 202 without an id):
  stays `sent` until the system's `sync.acknowledged` / `sync.refused` event
  arrives through its webhook source (`answer`);
- refused: `refused` with the system's answer, held as a `sync_refused` exception;
- no usable answer within the connector's retries: `failed`, held as `sync_failed`.

A command already acknowledged is not sent again (its idempotency key would
make a repeat harmless, but there is nothing to gain). `retry` sends a held
command again, with its payload rebuilt from the contract as it is now, so a
fix made upstream is what goes out. See docs/decisions/0007-downstream-command-outcomes.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from billbridge.app.ledger import Ledger, apply_to_book
from billbridge.app.ports import (
    Clock,
    CommandLog,
    ConcurrentCommandUpdateError,
    Connector,
    ConnectorCommand,
    EventPublisher,
    TransientConnectorError,
)
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.downstream_commands import (
    REFERENCE_KEYS,
    CommandState,
    DownstreamCommand,
    command_id_for,
    new_attempt,
    with_answer,
)
from billbridge.domain.sync_exceptions import hold_command, release_command

COMMAND_ID_HEADER = "X-Command-Id"
HELD_STATES = frozenset({CommandState.REFUSED.value, CommandState.FAILED.value})
MAX_RECORD_ATTEMPTS = 8


class UnknownCommandError(LookupError):
    """No command has this id."""


class NothingToRetryError(ValueError):
    """The command was acknowledged: there is nothing to retry."""


class AnswerFromAnotherSystemError(ValueError):
    """A system answered a command that was sent to another system."""


@dataclass(frozen=True, slots=True)
class PlannedCommand:
    """A command the hub wants a system to carry out."""

    contract_id: str
    system: str
    target: str
    name: str
    idempotency_key: str
    correlation_id: str
    payload: dict[str, Any]
    contract_version: int | None = None

    @property
    def command_id(self) -> str:
        return command_id_for(self.target, self.name, self.idempotency_key)


@dataclass
class DownstreamSync:
    ledger: Ledger
    log: CommandLog
    clock: Clock
    publisher: EventPublisher | None = None

    def send(self, connector: Connector, planned: PlannedCommand) -> DownstreamCommand:
        attempt = self._record_attempt(planned)
        if attempt.state is CommandState.ACKNOWLEDGED:
            return attempt
        try:
            receipt = connector.send(
                ConnectorCommand(
                    target=planned.target,
                    name=planned.name,
                    idempotency_key=planned.idempotency_key,
                    payload=planned.payload,
                    correlation_id=planned.correlation_id,
                    headers={COMMAND_ID_HEADER: planned.command_id},
                )
            )
        except TransientConnectorError as error:
            return self._record_answer(attempt, CommandState.FAILED, answer=str(error))
        if not receipt.accepted:
            return self._record_answer(attempt, CommandState.REFUSED, answer=receipt.detail)
        if receipt.awaiting_acknowledgement:
            return attempt
        return self._record_answer(
            attempt, CommandState.ACKNOWLEDGED, reference=receipt.reference, answer=receipt.detail
        )

    def answer(
        self,
        command_id: str,
        state: CommandState,
        *,
        reference: str | None = None,
        answer: str = "",
        from_system: str | None = None,
    ) -> DownstreamCommand:
        """Record a system's answer (synchronous, or from its webhook source) and
        hold or release the command's exception. `from_system`: the webhook source the
        answer came from, which must be the system the command was sent to."""
        current = self.log.get(command_id)
        if current is None:
            raise UnknownCommandError(f"no command {command_id!r} was sent")
        if from_system is not None and from_system != current.system:
            raise AnswerFromAnotherSystemError(
                f"data.command_id: {command_id} was sent to the {current.system}, not answered by the {from_system}"
            )
        return self._record_answer(current, state, reference=reference, answer=answer)

    def _record_answer(
        self, current: DownstreamCommand, state: CommandState, *, reference: str | None = None, answer: str = ""
    ) -> DownstreamCommand:
        """`current` as last read (reloaded if it changed meanwhile) with the answer."""
        command_id = current.command_id
        for attempt in range(MAX_RECORD_ATTEMPTS):
            if attempt:
                reloaded = self.log.get(command_id)
                if reloaded is None:
                    raise UnknownCommandError(f"no command {command_id!r} was sent")
                current = reloaded
            updated = with_answer(current, state, at=self._now(), reference=reference, answer=answer)
            if updated == current:
                return current
            try:
                saved = self.log.save(updated)
            except ConcurrentCommandUpdateError:
                continue
            self._settle(saved)
            return saved
        raise ConcurrentCommandUpdateError(f"command {command_id} kept changing while its answer was recorded")

    def retry(self, command_id: str, connector_for: Callable[[str], Connector]) -> DownstreamCommand:
        """Send a refused, failed or unanswered command again, with its payload
        rebuilt from the contract as it is now."""
        from billbridge.app.downstream_payloads import rebuild_payload

        command = self.log.get(command_id)
        if command is None:
            raise UnknownCommandError(f"no command {command_id!r} was sent")
        if command.state is CommandState.ACKNOWLEDGED:
            raise NothingToRetryError(f"{command_id} was acknowledged as {command.reference or '-'}")
        book = self.ledger.load(command.contract_id).book
        planned = PlannedCommand(
            contract_id=command.contract_id,
            system=command.system,
            target=command.target,
            name=command.name,
            idempotency_key=command.idempotency_key,
            correlation_id=command.correlation_id,
            payload=rebuild_payload(book, command),
            contract_version=command.contract_version,
        )
        return self.send(connector_for(command.target), planned)

    def _record_attempt(self, planned: PlannedCommand) -> DownstreamCommand:
        now = self._now()
        blank = DownstreamCommand(
            command_id=planned.command_id,
            contract_id=planned.contract_id,
            system=planned.system,
            target=planned.target,
            name=planned.name,
            idempotency_key=planned.idempotency_key,
            correlation_id=planned.correlation_id,
            payload=planned.payload,
            state=CommandState.SENT,
            first_sent_at=now,
            updated_at=now,
            contract_version=planned.contract_version,
        )
        for tried in range(MAX_RECORD_ATTEMPTS):
            # Most commands are sent once: the first try writes the command as new (the log
            # refuses it if it exists) without reading it first; a repeat is read and counted.
            existing = self.log.get(planned.command_id) if tried else None
            attempt = new_attempt(existing, blank, at=now)
            if attempt is None:
                assert existing is not None
                return existing
            try:
                return self.log.save(attempt)
            except ConcurrentCommandUpdateError:
                continue
        raise ConcurrentCommandUpdateError(f"command {planned.command_id} kept changing while it was being sent")

    def _settle(self, command: DownstreamCommand) -> None:
        context = RuleContext(correlation_id=command.correlation_id, source_ref=f"connector:{command.command_id}")
        if command.needs_attention:
            apply_to_book(
                self.ledger, command.contract_id, lambda book: hold_command(book, command, context), self.publisher
            )
        elif command.state is CommandState.ACKNOWLEDGED:
            if any(state in HELD_STATES for _, state, _ in command.history):
                # Only a command that was refused or failed before has an exception to resolve.
                apply_to_book(
                    self.ledger,
                    command.contract_id,
                    lambda book: release_command(book, command, context),
                    self.publisher,
                )
            key = REFERENCE_KEYS.get(command.name)
            if key is not None and command.reference:
                self.ledger.record_mapping(command.contract_id, {key: command.reference})

    def _now(self) -> str:
        return self.clock.now().isoformat()
