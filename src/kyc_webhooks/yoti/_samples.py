"""One realistic Yoti notification body per documented topic ([docs]), keyed by body topic.

Yoti bodies are just ``session_id``, ``topic`` and, for three topics, the id of the task, check or
resource concerned -- no names, no timestamps, no results (those come from the session fetch). The
IBV sessions (last four topics) use a different session id, as an In-Branch Verification session
would.
"""

# Vendor documentation cited below as [name]:
# [docs] https://developers.yoti.com/identity-verification/notifications

from __future__ import annotations

from typing import Any

__all__ = ["SAMPLES"]

_IDV_SESSION = "9326af8e-3609-4d71-97d4-ea3563d3dc91"
_IBV_SESSION = "bf6b6dc2-6ca3-459c-a427-97614a5f3c22"

SAMPLES: dict[str, dict[str, Any]] = {
    "resource_update": {
        "session_id": _IDV_SESSION,
        "topic": "resource_update",
        "resource_id": "f63192f5-9a36-4868-a088-d768b41c4f1b",
    },
    "task_completion": {
        "session_id": _IDV_SESSION,
        "topic": "task_completion",
        "task_id": "395e52e2-c314-478c-af8f-a81361841b79",
    },
    "check_completion": {
        "session_id": _IDV_SESSION,
        "topic": "check_completion",
        "check_id": "68b4bf45-afca-4846-9d94-46dab75eef55",
    },
    "session_completion": {"session_id": _IDV_SESSION, "topic": "session_completion"},
    "client_session_token_deleted": {
        "session_id": _IDV_SESSION,
        "topic": "client_session_token_deleted",
    },
    "new_pdf_supplied": {"session_id": _IBV_SESSION, "topic": "new_pdf_supplied"},
    "instructions_email_requested": {
        "session_id": _IBV_SESSION,
        "topic": "instructions_email_requested",
    },
    "thank_you_email_requested": {
        "session_id": _IBV_SESSION,
        "topic": "thank_you_email_requested",
    },
    "first_branch_visit": {"session_id": _IBV_SESSION, "topic": "first_branch_visit"},
}
