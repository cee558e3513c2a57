"""The held rest of a cap-split line keeps its exact amount (line amount minus billed amount)."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, entry, version


def test_the_rest_bills_exactly_what_the_cap_exception_held() -> None:
    desk = Desk()
    desk.version(version(cap="1000.00", roles={"consultant": "150.00"}))
    desk.entry(entry("TE-1", {"2026-03-02": "8"}))
    first = desk.bill("2026-03")
    assert first is not None and first.subtotal == D("1000.00")
    assert desk.exception(ExceptionType.CAP_EXCEEDED).amount == D("200.00")
    desk.version(version(number=2, cap="2000.00", roles={"consultant": "150.00"}))
    second = desk.bill("2026-03")
    assert second is not None
    (rest,) = second.lines
    assert (rest.quantity, rest.amount) == (D("1.33"), D("200.00"))
    assert first.subtotal + second.subtotal == D("1200.00")
    assert desk.exception(ExceptionType.CAP_EXCEEDED).state is ExceptionState.RESOLVED


def test_the_two_parts_always_add_up_to_the_original_line() -> None:
    desk = Desk()
    desk.version(version(cap="1050.00", roles={"architect": "137.50"}))
    desk.entry(entry("TE-1", {"2026-05-11": "6"}, role="architect"))
    desk.entry(entry("TE-2", {"2026-05-13": "4"}, role="architect"))
    desk.bill("2026-05")
    billed, rest = desk.lines(ref="TE-2")
    assert (billed.amount, rest.amount) == (D("225.00"), D("325.00"))
    assert (billed.quantity, rest.quantity) == (D("1.64"), D("2.36"))
