"""The lifecycle over HTTP on both stores: lodge, assign, contact, resolve, replay."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import AUDITOR, CASEWORKER, INTAKE, SUPERVISOR, auth, lodging


def test_lodge_assign_contact_resolve(client: TestClient) -> None:
    # Given a lodged complaint
    lodged = client.post("/complaints", json=lodging(), headers=INTAKE)
    assert lodged.status_code == 201, lodged.text
    complaint = lodged.json()
    complaint_id = complaint["complaint_id"]
    assert lodged.headers["Location"] == f"/complaints/{complaint_id}"
    assert lodged.headers["ETag"] == '"1"'
    assert complaint["status"] == "lodged"
    assert complaint["reference"].startswith("PC/")
    assert complaint["position"] >= 1

    # When a supervisor assigns it, the investigator contacts the complainant and resolves it
    investigator = auth("inv-0042", "caseworker", name="DS Ada Lovelace")
    steps = [
        (
            "assign",
            {"investigator_id": "inv-0042", "investigator_name": "DS Ada Lovelace"},
            SUPERVISOR,
            "assigned",
        ),
        (
            "contacts",
            {"method": "phone", "summary": "Talked it through."},
            investigator,
            "in_contact",
        ),
        (
            "resolve",
            {
                "outcome": "apology_given",
                "summary": "Apologised.",
                "learning": [{"theme": "communication", "note": "Be patient."}],
            },
            investigator,
            "resolved",
        ),
    ]
    position = complaint["position"]
    for version, (path, body, headers, status) in enumerate(steps, start=2):
        answer = client.post(f"/complaints/{complaint_id}/{path}", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == status
        assert answer.headers["ETag"] == f'"{version}"'
        assert answer.json()["position"] > position
        position = answer.json()["position"]

    # Then the history lists every event, oldest first, with who did it
    history = client.get(f"/complaints/{complaint_id}/history", headers=AUDITOR).json()
    assert [event["type"] for event in history["events"]] == [
        "ComplaintLodged",
        "InvestigatorAssigned",
        "ComplainantContacted",
        "ComplaintResolved",
    ]
    assert [event["version"] for event in history["events"]] == [1, 2, 3, 4]
    assert history["events"][1]["actor"] == {"id": "sup-1", "name": "DI Grace Hopper"}
    assert history["events"][3]["data"]["outcome"] == "apology_given"

    # And the complaint reads as resolved, with its timeline filled in
    final = client.get(f"/complaints/{complaint_id}", headers=CASEWORKER)
    assert final.status_code == 200
    assert final.headers["ETag"] == '"4"'
    body = final.json()
    assert body["status"] == "resolved"
    assert body["investigator"]["id"] == "inv-0042"
    assert body["assigned_at"]
    assert body["first_contact_at"]
    assert body["resolved_at"]
    assert body["resolution"]["learning"] == [{"theme": "communication", "note": "Be patient."}]
