"""The rules of a downstream command's state: an acknowledgement is final, a
new attempt follows only a refusal, a failure or no answer, and an answer is
recorded once however often it is delivered."""

from __future__ import annotations

from billbridge.domain.downstream_commands import (
    CommandState,
    DownstreamCommand,
    command_id_for,
    new_attempt,
    with_answer,
)
from hypothesis import given
from hypothesis import strategies as st

PLANNED = DownstreamCommand(
    command_id=command_id_for("psa", "UpsertProject", "C-1-v1"),
    contract_id="C-1",
    system="psa",
    target="psa",
    name="UpsertProject",
    idempotency_key="C-1-v1",
    correlation_id="corr-1",
    payload={"contract_id": "C-1"},
    state=CommandState.SENT,
    first_sent_at="",
    updated_at="",
    contract_version=1,
)


def first_attempt() -> DownstreamCommand:
    attempt = new_attempt(None, PLANNED, at="2026-03-01T09:00:00+00:00")
    assert attempt is not None
    return attempt


def test_the_command_id_is_its_target_name_and_business_key() -> None:
    assert PLANNED.command_id == "psa/UpsertProject/C-1-v1"


def test_a_first_attempt_is_sent_once_with_its_time() -> None:
    attempt = first_attempt()
    assert (attempt.state, attempt.attempts, attempt.first_sent_at) == (
        CommandState.SENT,
        1,
        "2026-03-01T09:00:00+00:00",
    )


def test_an_acknowledged_command_is_never_attempted_again() -> None:
    acknowledged = with_answer(first_attempt(), CommandState.ACKNOWLEDGED, at="t1", reference="PRJ-1")
    assert new_attempt(acknowledged, PLANNED, at="t2") is None


def test_a_retry_after_a_refusal_keeps_the_first_send_time_and_counts_the_attempt() -> None:
    refused = with_answer(first_attempt(), CommandState.REFUSED, at="t1", answer="HTTP 422")
    retried = new_attempt(refused, PLANNED, at="t2")
    assert retried is not None
    assert (retried.state, retried.attempts, retried.first_sent_at) == (
        CommandState.SENT,
        2,
        "2026-03-01T09:00:00+00:00",
    )


answers = st.lists(
    st.tuples(
        st.sampled_from([CommandState.SENT, CommandState.ACKNOWLEDGED, CommandState.REFUSED, CommandState.FAILED]),
        st.sampled_from(["PRJ-1", None]),
    ),
    max_size=8,
)


@given(before=answers, after=answers)
def test_once_acknowledged_no_later_answer_changes_the_state_or_the_id(before: list, after: list) -> None:  # type: ignore[type-arg]
    command = first_attempt()
    for state, reference in before:
        command = with_answer(command, state, at="t", reference=reference)
    command = with_answer(command, CommandState.ACKNOWLEDGED, at="t-ack", reference="PRJ-9")
    for state, _ in after:
        if state is CommandState.ACKNOWLEDGED:
            continue  # a second acknowledgement with another id is a different question
        command = with_answer(command, state, at="t-late", answer="late")
    assert (command.state, command.reference) == (CommandState.ACKNOWLEDGED, "PRJ-9")


def test_the_same_acknowledgement_delivered_twice_changes_nothing() -> None:
    once = with_answer(first_attempt(), CommandState.ACKNOWLEDGED, at="t1", reference="PRJ-1")
    assert with_answer(once, CommandState.ACKNOWLEDGED, at="t2", reference="PRJ-1") == once
