"""One realistic iDenfy payload per documented event type (facts: https://documentation.idenfy.com/kyc/webhooks).

Built from iDenfy's webhook schemas ([spec]) and real published bodies: the
same keys, value styles and nesting, with fictitious people (non-ASCII names), ids and times.
Valid under :mod:`kyc_webhooks.idenfy.models`; used by :mod:`kyc_webhooks.testing` and the tests.
"""

# Vendor documentation cited below as [name]:
# [spec] https://documentation.idenfy.com/api-reference/webhooks

from __future__ import annotations

import copy
from typing import Any

__all__ = ["SAMPLES"]

_SCAN_REF = "3f1c9a52-7b4e-4d0a-9c61-2e8b5d7f0a13"
_CLIENT_ID = "client-48213"
_FILE_BASE = (
    "https://s3.eu-west-1.amazonaws.com/production.users.storage/users_storage/users/"
    "8c2f4a1e9b7d4c3a/{name}.png?AWSAccessKeyId=AKIAEXAMPLE&Signature=c2lnbmF0dXJl"
    "&Expires=1793960000"
)


def _fraud_status(suspected: bool) -> dict[str, Any]:
    return {
        "serviceSuspected": suspected,
        "checkSuccessful": True,
        "serviceFound": True,
        "serviceUsed": True,
        "overallStatus": "SUSPECTED" if suspected else "NOT_SUSPECTED",
    }


_IDENTIFICATION: dict[str, Any] = {
    "final": True,
    "platform": "MOBILE_APP",
    "status": {
        "overall": "APPROVED",
        "fraudTags": [],
        "mismatchTags": [],
        "autoFace": "FACE_MATCH",
        "manualFace": "FACE_MATCH",
        "autoDocument": "DOC_VALIDATED",
        "manualDocument": "DOC_VALIDATED",
        "additionalSteps": None,
    },
    "data": {
        "docFirstName": "JŪRATĖ",
        "docLastName": "ŽEMAITĖ",
        "docNumber": "LT4815162",
        "docPersonalCode": "49003151234",
        "docExpiry": "2031-03-14",
        "docDob": "1990-03-15",
        "docDateOfIssue": "2021-03-15",
        "docType": "ID_CARD",
        "docSex": "FEMALE",
        "docNationality": "LT",
        "docIssuingCountry": "LT",
        "birthPlace": "ŠIAULIAI",
        "authority": "MIGRACIJOS DEPARTAMENTAS",
        "address": "Laisvės al. 12-3, Kaunas",
        "docTemporaryAddress": None,
        "mothersMaidenName": None,
        "docBirthName": None,
        "docPatronymic": None,
        "driverLicenseCategory": None,
        "manuallyDataChanged": False,
        "fullName": "JŪRATĖ ŽEMAITĖ",
        "selectedCountry": "LT",
        "orgFirstName": "JŪRATĖ",
        "orgLastName": "ŽEMAITĖ",
        "orgNationality": "LIETUVOS",
        "orgBirthPlace": "ŠIAULIAI",
        "orgAuthority": None,
        "orgAddress": None,
        "orgTemporaryAddress": None,
        "orgMothersMaidenName": None,
        "orgPatronymic": None,
        "orgBirthName": None,
        "ageEstimate": "OVER_30",
        "clientIpProxyRiskLevel": "LOW",
        "duplicateFaces": [],
        "duplicateDocFaces": [],
        "additionalData": {},
    },
    "fileUrls": {
        "FRONT": _FILE_BASE.format(name="FRONT"),
        "BACK": _FILE_BASE.format(name="BACK"),
        "FACE": _FILE_BASE.format(name="FACE"),
    },
    "additionalStepPdfUrls": {},
    "AML": [
        {
            "status": _fraud_status(False),
            "data": [],
            "serviceName": "AML_NAMES_CHECK",
            "serviceGroupType": "AML",
            "uid": "Q7K2M9X4B1N8C5V3Z6L0P2R4T",
            "errorMessage": None,
        }
    ],
    "LID": [
        {
            "status": _fraud_status(False),
            "data": [],
            "serviceName": "IrdInvalidPapers",
            "serviceGroupType": "LID",
            "uid": "H3J5K7L9M1N3B5V7C9X1Z3A5S",
            "errorMessage": None,
        }
    ],
    "scanRef": _SCAN_REF,
    "externalRef": "order-2026-11-0042",
    "clientId": _CLIENT_ID,
    "startTime": 1795420800,
    "finishTime": 1795420934,
    "clientIp": "203.0.113.42",
    "clientIpCountry": "LT",
    "clientLocation": "Kaunas, Lithuania",
    "gdcMatch": None,
    "manualAddress": None,
    "manualAddressMatch": False,
    "registryCenterCheck": None,
    "addressVerification": None,
    "questionnaireAnswers": None,
    "riskAssessment": {"riskScore": 12, "riskLevel": "LOW"},
    "emailVerification": {"email": "jurate.zemaite@example.lt", "emailVerified": True},
    "phoneVerification": {"phone": "+37061234567", "phoneVerified": True},
    "additionalSteps": None,
}


def _identification(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(_IDENTIFICATION)
    status_changes = changes.pop("status", {})
    body["status"].update(status_changes)
    body.update(changes)
    return body


_AUTO_SUSPECTED = _identification(
    final=False,
    status={
        "overall": "SUSPECTED",
        "fraudTags": ["DOC_MOBILE_PHOTO", "AML_SUSPECTION"],
        "mismatchTags": ["NAME"],
        "manualFace": None,
        "manualDocument": None,
    },
)
_AUTO_SUSPECTED["AML"] = [
    {
        "status": _fraud_status(True),
        "data": [
            {
                "name": "JŪRATĖ",
                "surname": "ŽEMAITĖ",
                "nationality": "LT",
                "dob": "1990",
                "suspicion": "PEPS",
                "reason": "LITHUANIA: MUNICIPAL COUNCIL MEMBER",
                "listNumber": None,
                "listName": None,
                "score": 87,
                "lastUpdate": "2026-10-02",
                "exitDate": None,
                "isPerson": True,
                "isActive": True,
                "linkedDocument": None,
                "pepLevel": 2,
                "category": "PEP",
                "otherInformation": None,
                "checkDate": "2026-11-17 09:14:22",
            }
        ],
        "serviceName": "AML_NAMES_CHECK",
        "serviceGroupType": "AML",
        "uid": "Q7K2M9X4B1N8C5V3Z6L0P2R4T",
        "errorMessage": None,
    }
]

_MANUAL_DENIED = _identification(
    status={
        "overall": "DENIED",
        "fraudTags": ["DOC_MOBILE_PHOTO"],
        "mismatchTags": ["NAME"],
        "manualFace": "FACE_MATCH",
        "manualDocument": "DOC_INFO_MISMATCH",
        "denyReasons": ["DOC_INFO_MISMATCH"],
    },
    finishTime=1795422140,
    registryCenterCheck={
        "resourceType": "LithuaniaRegistryCenterCheck",
        "checkedPersonalNumber": "49003151234",
        "checkedDocumentType": "ID",
        "personalNumber": "49003151234",
        "name": "JŪRATĖ",
        "surname": "ŽEMAITĖ",
        "documentNumber": "LT4815162",
        "documentExpiration": "2031-03-14",
        "facePhoto": None,
    },
    amlCheck={
        "id": "2a6f0d9c-4b81-4e37-95c2-d8e1a7b3f046",
        "overallStatus": "FALSE_POSITIVE",
        "statusSetBy": {
            "id": 4411,
            "name": "Rūta",
            "surname": "Kazlauskienė",
            "email": "ruta@example.lt",
        },
        "statusSetAt": "2026-11-23T08:20:05Z",
        "adverseMedia": [
            {
                "title": "Savivaldybės tarybos narė apdovanota",
                "url": "https://news.example.lt/2026/10/apdovanojimas",
                "text": "Tarybos narė J. Ž. apdovanota už ...",
                "score": "0.41",
                "type": "NEGATIVE",
                "publishDate": "2026-10-01",
                "status": "FALSE_POSITIVE",
                "comment": {
                    "id": 90211,
                    "manager": None,
                    "content": "Other person, same initials",
                    "type": "ADVERSE_MEDIA",
                    "created": "2026-11-23T08:19:40Z",
                },
            }
        ],
        "amlCheck": [],
    },
    CRIMINAL_CHECK=[
        {
            "status": {
                "serviceSuspected": True,
                "checkSuccessful": True,
                "serviceFound": True,
                "serviceUsed": True,
                "overallStatus": "SUSPECTED",
            },
            "data": [
                {
                    "offenses": [
                        {
                            "offense": "Vagystė",
                            "offenseClass": "MISDEMEANOR",
                            "offenseDescription": "Smulki vagystė",
                            "offenseLevel": "M",
                            "sentenceDate": "2015-06-02",
                            "courtName": "Kauno apylinkės teismas",
                            "courtCaseNumber": "1-2231-645/2015",
                            "releaseDate": None,
                        }
                    ],
                    "fullName": "Jūratė Žemaitė",
                    "county": None,
                    "region": None,
                }
            ],
            "serviceName": "CRIMINAL_RECORDS_CHECK",
            "serviceGroupType": "CRIMINAL_CHECK",
            "uid": "K8D2F6H0J4L8N2Q6S0U4W8Y2A",
            "errorMessage": None,
        }
    ],
)

_RESUBMITTED = _identification(
    status={"additionalSteps": "VALID"},
    additionalSteps={"UTILITY_BILL": "UPLOAD"},
    additionalStepPdfUrls={"UTILITY_BILL": _FILE_BASE.format(name="UTILITY_BILL")},
    addressVerification={
        "address": "Laisvės al. 12-3, Kaunas",
        "country": "LT",
        "status": "VERIFIED",
        "accuracy": 9,
        "quality": "EXCELLENT",
    },
    finishTime=1795507200,
    gdcMatch=True,
    questionnaireAnswers={
        "title": "Kliento anketa",
        "sections": [
            {
                "title": "Veikla",
                "questions": [
                    {
                        "key": "occupation",
                        "title": "Profesija",
                        "type": "TEXT",
                        "value": "Programuotoja",
                    },
                    {"key": "pep", "title": "Ar esate PEP?", "type": "CHECKBOX", "value": False},
                    {
                        "key": "countries",
                        "title": "Šalys",
                        "type": "COUNTRY_MULTI",
                        "value": ["LT", "LV"],
                    },
                ],
            }
        ],
    },
    driverLicenseCheck={
        "name": "JŪRATĖ",
        "surname": "ŽEMAITĖ",
        "dateOfBirth": "1990-03-15",
        "state": "LT",
        "gender": "F",
        "dateOfIssue": "2019-04-01",
        "dateOfExpiry": "2034-04-01",
        "documentNumber": "DL55120934",
        "nameMatch": True,
        "surnameMatch": True,
        "dateOfBirthMatch": True,
        "dateOfIssueMatch": None,
        "dateOfExpiryMatch": None,
        "documentNumberMatch": True,
        "genderMatch": True,
    },
    bankVerification={
        "id": "6c1e9a4f-2b73-4d08-a5e6-0f8b3c7d2e19",
        "country": "LT",
        "bank": "SEB",
        "accounts": [
            {
                "id": "e2a8c5f1-9d36-4b70-8c4e-1a7f3b9d5c62",
                "name": "Jūratė Žemaitė",
                "iban": "LT417044060008011234",
                "currency": "EUR",
                "balancesOverview": None,
                "transactionsCount": None,
            }
        ],
        "riskLevel": "VERY_LOW",
    },
    bankCardVerification={
        "id": "8b4d2f7a-1c95-4e63-b0a8-5d2f9c6e1a37",
        "status": "MATCH",
        "noMatchReason": None,
        "name": "JURATE ZEMAITE",
        "firstSix": "535110",
        "lastFour": "7394",
        "expiryDate": "2028-09-30",
        "nameMatch": True,
        "lastFourMatch": True,
    },
)

_CANCELLED: dict[str, Any] = {
    "final": True,
    "platform": "PC",
    "status": {
        "overall": "DENIED",
        "fraudTags": [],
        "mismatchTags": [],
        "autoFace": "FACE_NOT_CHECKED",
        "manualFace": None,
        "autoDocument": "DOC_NOT_FOUND",
        "manualDocument": None,
        "additionalSteps": None,
    },
    "data": {
        "docFirstName": None,
        "docLastName": None,
        "docNumber": None,
        "docPersonalCode": None,
        "docExpiry": None,
        "docDob": None,
        "docType": None,
        "docSex": None,
        "docNationality": None,
        "docIssuingCountry": None,
        "manuallyDataChanged": False,
        "fullName": None,
        "selectedCountry": "PL",
    },
    "fileUrls": {},
    "scanRef": "9d2e6b10-44a7-4f3c-8e15-6a0c3b9d2f71",
    "clientId": "client-90417",
    "startTime": 1795430000,
    "finishTime": 1795430061,
    "clientIp": "198.51.100.7",
    "clientIpCountry": "PL",
    "clientLocation": "Kraków, Poland",
}

_EXPIRED: dict[str, Any] = copy.deepcopy(_CANCELLED)
_EXPIRED.update(
    scanRef="b71f0c8e-2a94-4d5b-9f36-1e7a8c4d0b25",
    clientId="client-77120",
    platform="MOBILE",
    clientLocation="Łódź, Poland",
)
_EXPIRED["status"].update(overall="EXPIRED", autoDocument="DOC_NOT_FOUND")

# Legacy catch-all (2021 shape): no ``final``, ``suspicionReasons`` instead of ``fraudTags``.
_LEGACY: dict[str, Any] = {
    "clientId": "client-30518",
    "scanRef": "c04a7e3d-95b2-4f18-a6d0-7e2c1b8f5a94",
    "externalRef": "legacy-5531",
    "platform": "MOBILE_APP",
    "startTime": 1611914400,
    "finishTime": 1611914467,
    "status": {
        "overall": "SUSPECTED",
        "suspicionReasons": ["FACE_SUSPECTED"],
        "mismatchTags": [],
        "autoDocument": "DOC_VALIDATED",
        "autoFace": "FACE_UNCERTAIN",
        "manualDocument": None,
        "manualFace": None,
    },
    "data": {
        "selectedCountry": "LV",
        "docFirstName": "ĀRIJA",
        "docLastName": "BĒRZIŅA",
        "docNumber": "PA0918273",
        "docPersonalCode": "150785-12345",
        "docExpiry": "2027-07-14",
        "docDob": "1985-07-15",
        "docType": "PASSPORT",
        "docSex": "FEMALE",
        "docNationality": "LV",
        "docIssuingCountry": "LV",
        "manuallyDataChanged": False,
        "orgFirstName": "ĀRIJA",
        "orgLastName": "BĒRZIŅA",
        "orgNationality": "LATVIJAS",
        "orgBirthPlace": "RĪGA",
        "orgAuthority": None,
        "orgAddress": None,
    },
    "fileUrls": {
        "FRONT": _FILE_BASE.format(name="FRONT"),
        "FACE": _FILE_BASE.format(name="FACE"),
    },
    "aml": {
        "status": _fraud_status(False),
        "data": [],
        "serviceName": "PilotApiAmlV2",
        "serviceGroupType": "AML",
        "uid": "OHT8GR5ESRF5XROWE5ZGCC987",
        "errorMessage": None,
    },
    "lid": {
        "status": _fraud_status(False),
        "data": [],
        "serviceName": "IrdInvalidPapers",
        "serviceGroupType": "LID",
        "uid": "OHT8GR5ESRF5XROWE5ZGCC987",
        "errorMessage": None,
    },
}

_MANAGER = {"id": 4411, "name": "Rūta", "surname": "Kazlauskienė", "email": "ruta@example.lt"}

_AML_V3_PERSON: dict[str, Any] = {
    "id": "5e0b8d2a-1c47-4f96-b3e8-0a7d2c9f4e61",
    "overallStatus": "FLAGS_FOUND",
    "statusSetBy": None,
    "statusSetAt": None,
    "userType": "PERSON",
    "adverseMedia": [],
    "amlCheck": [
        {
            "version": 3,
            "resourceId": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
            "score": 92,
            "match": "name_exact",
            "name": "Jūratė Žemaitė",
            "addresses": [{"geography": "LT", "city": "Kaunas"}],
            "nationalities": ["LT"],
            "datesOfBirth": ["1990-03-15"],
            "gender": "FEMALE",
            "profileImage": None,
            "countries": ["LT"],
            "datasets": ["PEP_CURRENT"],
            "currentSanBodyIds": [],
            "formerSanBodyIds": [],
            "pepTier": "PEP_TIER_3",
        }
    ],
}

_COMPANY_ID = "e6c3a1f4-8b2d-4e97-a05c-3d9f7b1e2c48"

SAMPLES: dict[str, dict[str, Any]] = {
    "IDENTIFICATION": _LEGACY,
    "IDENTIFICATION_AUTO_FINISHED": _AUTO_SUSPECTED,
    "IDENTIFICATION_MANUAL_FINISHED": _MANUAL_DENIED,
    "IDENTIFICATION_RESUBMITTED": _RESUBMITTED,
    "IDENTIFICATION_CANCELLED": _CANCELLED,
    "IDENTIFICATION_EXPIRED": _EXPIRED,
    "DOCUMENT_EXPIRATION": {
        "scanRef": _SCAN_REF,
        "clientId": _CLIENT_ID,
        "expirationThreshold": "DOCUMENT_EXPIRES_WITHIN_30_DAYS",
        "documentExpiration": "2026-12-20",
    },
    "VIDEO_CALL_FINISHED": {
        "videoCallAnswers": {
            "Ar tai jūsų dokumentas?": {"answer": "Taip, mano.", "correct": True},
            "Koks jūsų gimimo miestas?": {"answer": "Šiauliai", "correct": True},
        },
        "date": "2026-11-17 10:02:41.519204+00:00",
        "status": True,
        "scanRef": _SCAN_REF,
        "authToken": "Zk3xQ9wL2mV7bN4cR8tY1uI6oP0aS5dF",
        "clientId": _CLIENT_ID,
    },
    "FACIAL_AUTHENTICATION": {
        "id": "0c8e4b27-5f19-4a3d-b6e2-9d1a7c3f5e80",
        "token": "Vb7nM2kQ9xL4wR8tC1zY6uH3jP0aE5sG",
        "clientId": _CLIENT_ID,
        "scanRef": _SCAN_REF,
        "status": "SUCCESS",
        "type": "AUTHENTICATION",
        "method": "FACE_MATCHING",
        "facePhoto": _FILE_BASE.format(name="AUTH_FACE"),
        "ipAddress": "203.0.113.42",
        "failReason": None,
        "riskTags": [],
    },
    "AGE_ESTIMATION": {
        "scanRef": "7a3d9e15-0b6c-4f28-9e41-c5b2d8a0f367",
        "status": "COMPLETED",
        "occurredAt": "2026-11-17T10:15:03Z",
        "outcome": "SUCCESS",
        "verdict": "ADULT",
        "estimatedAge": 34,
        "confidence": 0.93,
        "clientId": "client-55012",
    },
    "AML_MONITORING": {
        "monitoringId": "f2b7c9e4-6a13-4d8f-a0e5-1c7b3d9f2a86",
        "name": "Jūratė",
        "surname": "Žemaitė",
        "nationality": "LT",
        "dob": "1990-03-15",
        "isActive": True,
        "expiration": "2027-11-17",
        "scanRefList": [_SCAN_REF],
        "alertStatus": "ALERT",
        "status": "ALERT",
        "pepsStatus": "FLAGS_FOUND",
        "sanctionsStatus": "NO_FLAGS",
        "adverseMediaStatus": "NOT_CHECKED",
        "results": [],
        "amlCheck": _AML_V3_PERSON,
    },
    "AML_MONITORING_EXPIRATION": {"usersToExtend": 14, "usersToExpire": 3},
    "COMPANY_REVIEW": {
        "id": _COMPANY_ID,
        "companyName": "UAB „Šilo Žiedas“",
        "registrationNumber": "305123456",
        "approvalStatus": "APPROVED",
        "denyReason": None,
        "statusChangedBy": {**_MANAGER, "username": "ruta.k"},
        "soleProprietor": False,
        "amlCheck": {
            "id": "8d4f2b6a-3e71-4c95-b0a8-6f2d9e1c7b34",
            "overallStatus": "NO_FLAGS",
            "statusSetBy": None,
            "statusSetAt": None,
            "adverseMedia": [],
            "amlCheck": [],
        },
        "companyCheck": None,
        "beneficiaries": [
            {
                "id": "b3e9a7c1-5d24-4f6b-8a0e-2c7f4d1b9e53",
                "amlCheck": {**_AML_V3_PERSON, "overallStatus": "FALSE_POSITIVE"},
                "beneficiaryCheck": None,
                "negativeNewsCheck": None,
                "scanRef": _SCAN_REF,
            }
        ],
        "shareholderCheck": [],
        "negativeNewsCheck": [],
        "clientId": "kyb-client-204",
        "externalRef": "kyb-2026-0117",
        "relatedClientScanRefs": [_SCAN_REF],
        "amlComment": None,
        "sanctionsCheckStatus": "NO_FLAGS",
        "sanctionsStatusSetBy": None,
        "sanctionsStatusSetAt": None,
        "negativeNewsComment": None,
        "negativeNewsStatus": "NO_FLAGS",
        "newsStatusSetBy": None,
        "newsStatusSetAt": None,
    },
    "COMPANY_DELETE": {
        "date": "2026-11-18T08:30:00.000000Z",
        "manager": _MANAGER,
        "companyId": _COMPANY_ID,
    },
    "COMPANY_AML_REVIEW": {
        "amlReviewSubjectType": "BENEFICIARY",
        "id": "b3e9a7c1-5d24-4f6b-8a0e-2c7f4d1b9e53",
        "companyId": _COMPANY_ID,
        "clientId": "kyb-client-204",
        "externalRef": "kyb-2026-0117",
        "overallStatus": "FALSE_POSITIVE",
        "statusSetBy": _MANAGER,
        "statusSetAt": "2026-11-17T12:44:10Z",
    },
    "COMPANY_INFO_REQUEST": {
        "companyId": _COMPANY_ID,
        "token": "kT4pW8nB2xM6qZ0rL5vC9yH3jD7fG1sA",
        "date": "2026-11-17T13:05:00Z",
        "email": "direktorius@silo-ziedas.example.lt",
        "manager": _MANAGER,
        "status": "REQUESTED",
    },
    "COMPANY_EXPIRATION": {"id": _COMPANY_ID, "expirationStatus": "PENDING"},
    "COMPANY_SUBMIT": {
        "id": _COMPANY_ID,
        "clientId": "kyb-client-204",
        "submissionTime": "2026-11-16T16:21:45Z",
        "soleProprietor": False,
        "externalRef": "kyb-2026-0117",
    },
    "GOV_ORDERED_DOCUMENT": {
        "id": "4c7e1a9b-2d58-4f03-b6a1-8e3c5d0f7b92",
        "productKey": "LT_REGISTER_EXTRACT",
        "title": "Juridinių asmenų registro išrašas",
        "documentFormat": "PDF",
        "expectedDeliveryTime": "2026-11-18T09:00:00Z",
        "deliveredAt": "2026-11-17T15:12:30Z",
        "status": "FINISHED",
        "price": 4.5,
        "file": "https://storage.idenfy.example/gov/4c7e1a9b/extract.pdf",
    },
    "SOS_REPORT": {
        "id": "6b2f8d4e-1a73-4c9b-a5e0-7d3c1f9b2e64",
        "companyName": "Žalgiris Trading LLC",
        "entityType": "LLC",
        "formationDate": "2019-05-02",
        "status": "FINISHED",
        "reportFile": "https://storage.idenfy.example/sos/6b2f8d4e/report.pdf",
        "dataFile": "https://storage.idenfy.example/sos/6b2f8d4e/data.json",
        "watchlistHitsCount": 0,
    },
    "BANK_VERIFICATION": {
        "id": "9e5a3c7b-0f24-4d81-b9c6-2a8e4f1d7c35",
        "country": "LT",
        "bank": "Swedbank",
        "accounts": [
            {
                "id": "1d7b4f9e-3c62-4a05-8e1b-5f9c2d7a0e48",
                "name": "Jūratė Žemaitė",
                "iban": "LT121000011101001000",
                "currency": "EUR",
                "balancesOverview": {"bookedBalance": 1523.4, "availableBalance": 1498.15},
                "transactionsCount": 212,
            }
        ],
        "riskLevel": "LOW",
    },
    "ACCOUNT_CHECK": {
        "scanRef": _SCAN_REF,
        "clientId": _CLIENT_ID,
        "authToken": "Hn5tK1wQ8zM3xB7vL2cR9yP4jD6fG0sE",
        "date": "2026-11-17T10:20:00Z",
        "status": 2,
        "score": 71.5,
        "facebookScore": 80,
        "gmailScore": 65.5,
        "ipScore": 69,
    },
    "BANK_CARD_VERIFICATION_COMPLETED": {
        "id": "2f8c6a1d-7b39-4e05-a4d2-9c1e5b3f7a60",
        "status": "MATCH",
        "noMatchReason": None,
        "name": "JURATE ZEMAITE",
        "firstSix": "535110",
        "lastFour": "7394",
        "expiryDate": "2028-09-30",
        "nameMatch": True,
        "lastFourMatch": True,
    },
    # [spec]: in iDenfy's API reference only (not in the dashboard list).
    "COMPANY_TOKEN_EXPIRED": {"clientId": "kyb-client-311", "externalRef": "kyb-2026-0243"},
}
