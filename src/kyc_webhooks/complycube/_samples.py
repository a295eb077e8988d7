"""One realistic Event per documented ComplyCube ``type`` ([webhooks]), valid under
:mod:`kyc_webhooks.complycube.models`. Used by :mod:`kyc_webhooks.testing`.

Keys are the wire spellings, current ones first, then the v1.7.2 ``check.complete*`` spellings
([webhooks]). Ids are 24-hex Mongo-style like the vendor's samples, timestamps ISO-8601 UTC with
milliseconds and ``Z`` ([webhooks]). Payloads follow [webhooks]: *create* -> the full object,
*update* -> ``id`` + changed fields, *delete* -> ``id``, check status events -> ``id``, ``status``,
``outcome``, ``createdAt``, ``updatedAt``. Every personal value is invented.
"""

# Vendor documentation cited below as [name]:
# [webhooks] https://docs.complycube.com/documentation/api-reference/other-resources/webhooks

from __future__ import annotations

from typing import Any

__all__ = ["SAMPLES"]

_CLIENT_ID = "5eb04fcd0f3e360008035eb1"
_CHECK_ID = "5eb1276d96be4a0008713af4"
_DOCUMENT_ID = "5eb169302d868c0008c6a7f1"
_ADDRESS_ID = "5ec3f2e6c15b4b0007d5a9c2"
_SESSION_ID = "6581a2bc7e0f4d0008a1c3e9"
_TEMPLATE_ID = "64f0c1d2e3a4b50008c6d7e8"
_WORKFLOW_ID = "64f0c1d2e3a4b50008c6d7f0"

_CREATED = "2024-03-18T09:41:27.312Z"
_UPDATED = "2024-03-18T09:43:05.874Z"


def _event(
    event_id: str, event_type: str, resource_type: str, payload: dict[str, Any], created_at: str
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": event_type,
        "resourceType": resource_type,
        "payload": payload,
        "createdAt": created_at,
    }


def _check_status(status: str, outcome: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"id": _CHECK_ID, "status": status}
    if outcome is not None:
        payload["outcome"] = outcome
    payload["createdAt"] = _CREATED
    payload["updatedAt"] = _UPDATED
    return payload


def _session(status: str, outcome: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": _SESSION_ID,
        "clientId": _CLIENT_ID,
        "entityName": "Zoë Ñúñez",
        "status": status,
        "workflowTemplateId": _TEMPLATE_ID,
        "workflowTemplateName": "Onboarding - EU retail",
        "workflowTemplateDescription": "Document, selfie and screening for EU customers",
        "workflowId": _WORKFLOW_ID,
        "workflowVersion": 3,
        "workflowDescription": "Retail onboarding v3",
        "compliancePolicies": [],
        "policyAssurance": [],
        "tasks": [],
        "allRelatedChecks": [
            {
                "checkId": _CHECK_ID,
                "type": "extensive_screening_check",
                "taskId": "6581a2bc7e0f4d0008a1c3f1",
            }
        ],
        "createdAt": _CREATED,
        "updatedAt": _UPDATED,
    }
    if outcome is not None:
        payload["outcome"] = outcome
        payload["lastCompletedTaskId"] = "6581a2bc7e0f4d0008a1c3f1"
    return payload


_CLIENT: dict[str, Any] = {
    "id": _CLIENT_ID,
    "type": "person",
    "entityName": "Zoë Ñúñez",
    "email": "zoe.nunez@example.com",
    "mobile": "+34 612 345 678",
    "externalId": "user-8841",
    "joinedDate": "2024-03-18",
    "personDetails": {
        "firstName": "Zoë",
        "lastName": "Ñúñez",
        "dob": "1990-02-14",
        "gender": "female",
        "nationality": "ES",
        "birthCountry": "ES",
    },
    "createdAt": _CREATED,
    "updatedAt": _CREATED,
}

_DOCUMENT: dict[str, Any] = {
    "id": _DOCUMENT_ID,
    "clientId": _CLIENT_ID,
    "type": "passport",
    "classification": "global",
    "issuingCountry": "ES",
    "images": [],
    "createdAt": _CREATED,
    "updatedAt": _CREATED,
}

_IMAGE: dict[str, Any] = {
    "id": "5eb16a322d868c0008c6a7f4",
    "fileName": "zoë-ñúñez-passport.jpg",
    "documentSide": "front",
    # Published API-reference example: the id in the link need not be the image id.
    "downloadLink": f"/documents/{_DOCUMENT_ID}/images/5eb16a322d868c0008c6a7f3/download",
    "contentType": "image/jpg",
    "size": 348221,
    "createdAt": _UPDATED,
    "updatedAt": _UPDATED,
}

_ADDRESS: dict[str, Any] = {
    "id": _ADDRESS_ID,
    "clientId": _CLIENT_ID,
    "type": "main",
    "propertyNumber": "7",
    "buildingName": "Edificio Alcázar",
    "line": "Calle Mayor, 3º B",
    "city": "Málaga",
    "state": "Andalucía",
    "postalCode": "29001",
    "country": "ES",
    "fromDate": "2019-06-01",
    "createdAt": _CREATED,
    "updatedAt": _CREATED,
}

SAMPLES: dict[str, dict[str, Any]] = {
    "workflow.session.started": _event(
        "65f80b2a9c1d4e0008a1b2c1",
        "workflow.session.started",
        "workflowSession",
        _session("started"),
        "2024-03-18T09:41:27.455Z",
    ),
    "workflow.session.cancelled": _event(
        "65f80b2a9c1d4e0008a1b2c2",
        "workflow.session.cancelled",
        "workflowSession",
        _session("cancelled"),
        "2024-03-18T09:50:02.118Z",
    ),
    "workflow.session.processing": _event(
        "65f80b2a9c1d4e0008a1b2c3",
        "workflow.session.processing",
        "workflowSession",
        _session("processing"),
        "2024-03-18T09:44:51.031Z",
    ),
    "workflow.session.completed": _event(
        "65f80b2a9c1d4e0008a1b2c4",
        "workflow.session.completed",
        "workflowSession",
        {**_session("complete", "clear"), "completedAt": "2024-03-18T09:46:13.620Z"},
        "2024-03-18T09:46:13.702Z",
    ),
    "workflow.session.updated": _event(
        "65f80b2a9c1d4e0008a1b2c5",
        "workflow.session.updated",
        "workflowSession",
        _session("complete", "attention"),
        "2024-03-18T11:02:40.006Z",
    ),
    "check.pending": _event(
        "5ed170fe99c81a0007b9a3d0",
        "check.pending",
        "check",
        _check_status("pending", None),
        "2024-03-18T09:41:27.529Z",
    ),
    "check.completed": _event(
        "5ed170fe99c81a0007b9a3d1",
        "check.completed",
        "check",
        _check_status("complete", "clear"),
        "2024-03-18T09:43:05.913Z",
    ),
    "check.completed.clear": _event(
        "5ed170fe99c81a0007b9a3d3",
        "check.completed.clear",
        "check",
        _check_status("complete", "clear"),
        "2024-03-18T09:43:05.964Z",
    ),
    "check.completed.attention": _event(
        "5ed170fe99c81a0007b9a3d4",
        "check.completed.attention",
        "check",
        _check_status("complete", "attention"),
        "2024-03-18T09:43:06.012Z",
    ),
    "check.completed.rejected": _event(
        "5ed170fe99c81a0007b9a3d5",
        "check.completed.rejected",
        "check",
        _check_status("complete", "rejected"),
        "2024-03-18T09:43:06.077Z",
    ),
    "check.completed.match_confirmed": _event(
        "5ed170fe99c81a0007b9a3d6",
        "check.completed.match_confirmed",
        "check",
        _check_status("complete", "match_confirmed"),
        "2024-03-18T09:43:06.140Z",
    ),
    "check.monitoring.attention": _event(
        "5ed170fe99c81a0007b9a3d7",
        "check.monitoring.attention",
        "check",
        _check_status("complete", "attention"),
        "2024-04-02T03:00:11.251Z",
    ),
    "check.failed": _event(
        "5ed170fe99c81a0007b9a3d8",
        "check.failed",
        "check",
        _check_status("failed", None),
        "2024-03-18T09:45:30.384Z",
    ),
    "check.updated": _event(
        "5ed170fe99c81a0007b9a3d9",
        "check.updated",
        "check",
        {"id": _CHECK_ID, "status": "complete", "updatedAt": "2024-03-18T14:20:09.517Z"},
        "2024-03-18T14:20:09.583Z",
    ),
    "client.created": _event(
        "5eb04fcd0f3e360008035ec0",
        "client.created",
        "client",
        _CLIENT,
        "2024-03-18T09:41:27.190Z",
    ),
    "client.updated": _event(
        "5eb04fcd0f3e360008035ec1",
        "client.updated",
        "client",
        {
            "id": _CLIENT_ID,
            "email": "zoe.nunez+nuevo@example.com",
            "personDetails": {"lastName": "Ñúñez-Peña"},
            "updatedAt": "2024-03-19T08:12:44.031Z",
        },
        "2024-03-19T08:12:44.102Z",
    ),
    "client.deleted": _event(
        "5eb04fcd0f3e360008035ec2",
        "client.deleted",
        "client",
        {"id": _CLIENT_ID},
        "2024-05-01T16:00:00.000Z",
    ),
    "document.created": _event(
        "5eb169302d868c0008c6a800",
        "document.created",
        "document",
        _DOCUMENT,
        "2024-03-18T09:42:01.337Z",
    ),
    "document.updated": _event(
        "5eb169302d868c0008c6a801",
        "document.updated",
        "document",
        {"id": _DOCUMENT_ID, "issuingCountry": "PT", "updatedAt": "2024-03-18T09:42:30.100Z"},
        "2024-03-18T09:42:30.164Z",
    ),
    "document.deleted": _event(
        "5eb169302d868c0008c6a802",
        "document.deleted",
        "document",
        {"id": _DOCUMENT_ID},
        "2024-05-01T16:00:00.412Z",
    ),
    "document.updated.image_uploaded": _event(
        "5eb169302d868c0008c6a803",
        "document.updated.image_uploaded",
        "document",
        {"id": _DOCUMENT_ID, "images": [_IMAGE], "updatedAt": _UPDATED},
        "2024-03-18T09:43:05.901Z",
    ),
    "document.updated.image_deleted": _event(
        "5eb169302d868c0008c6a804",
        "document.updated.image_deleted",
        "document",
        {"id": _DOCUMENT_ID, "images": [], "updatedAt": "2024-03-18T10:05:17.266Z"},
        "2024-03-18T10:05:17.301Z",
    ),
    "address.created": _event(
        "5ec3f2e6c15b4b0007d5a9d0",
        "address.created",
        "address",
        _ADDRESS,
        "2024-03-18T09:41:59.845Z",
    ),
    "address.updated": _event(
        "5ec3f2e6c15b4b0007d5a9d1",
        "address.updated",
        "address",
        {
            "id": _ADDRESS_ID,
            "line": "Avenida de Andalucía, 12",
            "postalCode": "29002",
            "updatedAt": "2024-06-11T12:30:45.990Z",
        },
        "2024-06-11T12:30:46.020Z",
    ),
    "address.deleted": _event(
        "5ec3f2e6c15b4b0007d5a9d2",
        "address.deleted",
        "address",
        {"id": _ADDRESS_ID},
        "2024-06-11T12:31:02.554Z",
    ),
    # API v1.7.2 spellings ([webhooks]): same payloads, older names.
    "check.complete": _event(
        "5ed170fe99c81a0007b9a3e1",
        "check.complete",
        "check",
        _check_status("complete", "attention"),
        "2021-02-03T10:15:42.208Z",
    ),
    "check.complete.clear": _event(
        "5ed170fe99c81a0007b9a3e2",
        "check.complete.clear",
        "check",
        _check_status("complete", "clear"),
        "2021-02-03T10:15:42.264Z",
    ),
    "check.complete.attention": _event(
        "5ed170fe99c81a0007b9a3e3",
        "check.complete.attention",
        "check",
        _check_status("complete", "attention"),
        "2021-02-03T10:15:42.319Z",
    ),
}
