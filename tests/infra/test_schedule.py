"""The monthly start: a Scheduler schedule in a time zone, with retries and a DLQ."""

from __future__ import annotations

from typing import Any

from infra.config import BillbridgeConfig
from tests.infra.conftest import Synthesized


def _billing_schedule(synthesized: Synthesized) -> dict[str, Any]:
    starter_arn = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.schedule.starter.function), "Arn"]}
    (schedule,) = (
        props for props in synthesized.properties("AWS::Scheduler::Schedule") if props["Target"]["Arn"] == starter_arn
    )
    return schedule


def test_schedule_runs_monthly_in_the_configured_time_zone(synthesized: Synthesized) -> None:
    schedule = _billing_schedule(synthesized)
    config = BillbridgeConfig()
    assert schedule["ScheduleExpression"] == (f"cron(0 {config.billing_hour} {config.billing_day_of_month} * ? *)")
    assert schedule["ScheduleExpressionTimezone"] == config.billing_time_zone
    assert schedule["State"] == "ENABLED"


def test_schedule_target_is_the_starter_with_retry_and_dead_letter_queue(synthesized: Synthesized) -> None:
    schedule = _billing_schedule(synthesized)
    billing_schedule = synthesized.stack.schedule
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [synthesized.logical_id(billing_schedule.starter.function), "Arn"]}
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": [synthesized.logical_id(billing_schedule.dead_letter_queue), "Arn"]}
    }
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] > 0
