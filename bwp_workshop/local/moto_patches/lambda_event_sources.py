"""SQS event source mappings kept as records: the local event runner consumes the queue.

With an SQS event source mapping, moto 5.2.5 receives each new message itself and runs the
function, which needs Docker: the message is hidden for the visibility timeout and counted as
received. Locally the event runner is the event source, so the mapping stays a record only.
"""

from __future__ import annotations

from typing import Any

from moto.awslambda import models as lambda_models
from moto.sqs.models import sqs_backends

from .patch import Patch


def _wrap_create_event_source_mapping(original: Any) -> Any:
    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        mapping = original(self, spec)
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.queue_arn == mapping.event_source_arn:
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    return create_event_source_mapping


PATCHES = (
    Patch(
        lambda_models.LambdaBackend,
        "create_event_source_mapping",
        "SQS event source mappings are records (the local event runner consumes the queue)",
        guard="tests/local/test_moto_fixes_for_stacks.py::test_an_sqs_event_source_mapping_leaves_the_messages_to_the_local_runner",
        wrapper=_wrap_create_event_source_mapping,
    ),
)
