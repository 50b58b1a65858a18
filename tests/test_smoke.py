from fastapi.testclient import TestClient

from tests.support.factories import Factory


def test_receive_and_read(factory: Factory) -> None:
    desk = factory.desk()
    ticket = desk.receive(party=desk.refs["consumer"], order=desk.refs["order"])
    detail = desk.trainees[0].get(f"/tickets/{ticket['key']}").json()
    assert detail["ticket"]["status"] == "new"
    assert detail["party"]["phone"] == "138****1234"


def test_a_body_that_is_not_json_is_told_as_such(client: TestClient) -> None:
    """Not a field named by the character where the JSON broke."""
    sent = client.post(
        "/api/v1/auth/token",
        content=b'{"username": "a",, }',
        headers={"content-type": "application/json"},
    )
    assert sent.status_code == 422
    assert sent.json()["field"] == "body"
    assert sent.json()["detail"].startswith("body: not valid JSON at character 17: ")
