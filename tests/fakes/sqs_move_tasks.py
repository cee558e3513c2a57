"""SQS message move tasks over moto's SQS (moto has no StartMessageMoveTask).

`SqsWithMoveTasks` passes every call to the wrapped client and answers
`start_message_move_task` / `list_message_move_tasks` as the SQS API reference
describes them: a task moves every message of the source DLQ to the destination, and
the list reports it (newest first) with `Status`, `ApproximateNumberOfMessagesMoved` and
`ApproximateNumberOfMessagesToMove`. `steps_per_poll` messages move per list call, so a
caller following the progress sees RUNNING before COMPLETED.
"""

from __future__ import annotations

import time
from typing import Any


class SqsWithMoveTasks:
    def __init__(self, client: Any, *, steps_per_poll: int = 1) -> None:
        self._client = client
        self._steps = steps_per_poll
        self.tasks: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _url(self, arn: str) -> str:
        return str(self._client.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"])

    def start_message_move_task(self, *, SourceArn: str, DestinationArn: str | None = None) -> dict[str, Any]:
        if any(t["SourceArn"] == SourceArn and t["Status"] == "RUNNING" for t in self.tasks):
            raise RuntimeError("Only one active message movement task is supported per queue at any given time.")
        depth = int(
            self._client.get_queue_attributes(
                QueueUrl=self._url(SourceArn), AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        task = {
            "TaskHandle": f"task-{len(self.tasks) + 1}",
            "Status": "RUNNING",
            "SourceArn": SourceArn,
            "DestinationArn": DestinationArn,
            "ApproximateNumberOfMessagesMoved": 0,
            "ApproximateNumberOfMessagesToMove": depth,
            "StartedTimestamp": int(time.time() * 1000),
        }
        self.tasks.insert(0, task)
        return {"TaskHandle": task["TaskHandle"]}

    def list_message_move_tasks(self, *, SourceArn: str, MaxResults: int = 1) -> dict[str, Any]:
        for task in self.tasks:
            if task["SourceArn"] == SourceArn and task["Status"] == "RUNNING":
                self._advance(task)
        results = [dict(t) for t in self.tasks if t["SourceArn"] == SourceArn][:MaxResults]
        return {"Results": results}

    def _advance(self, task: dict[str, Any]) -> None:
        source, destination = self._url(task["SourceArn"]), self._url(task["DestinationArn"])
        for _ in range(self._steps):
            messages = self._client.receive_message(QueueUrl=source, MaxNumberOfMessages=1).get("Messages", [])
            if not messages:
                task["Status"] = "COMPLETED"
                return
            self._client.send_message(QueueUrl=destination, MessageBody=messages[0]["Body"])
            self._client.delete_message(QueueUrl=source, ReceiptHandle=messages[0]["ReceiptHandle"])
            task["ApproximateNumberOfMessagesMoved"] += 1
        if task["ApproximateNumberOfMessagesMoved"] >= task["ApproximateNumberOfMessagesToMove"]:
            task["Status"] = "COMPLETED"
