from tests.support.factories import Factory


def test_receive_and_read(factory: Factory) -> None:
    desk = factory.desk()
    ticket = desk.receive(party=desk.refs["consumer"], order=desk.refs["order"])
    detail = desk.trainees[0].get(f"/tickets/{ticket['key']}").json()
    assert detail["ticket"]["status"] == "new"
    assert detail["party"]["phone"] == "138****1234"
