"""Queues sorted by priority then age, paginated; search in Chinese and English."""

from __future__ import annotations

from tests.support.factories import Agent, Desk, Factory


def _keys(agent: Agent, desk: Desk, **params: object) -> list[str]:
    response = agent.get(f"/drills/{desk.drill_id}/tickets", params=params)
    assert response.status_code == 200, response.text
    return [t["key"] for t in response.json()["items"]]


class TestQueues:
    def test_priority_then_age(self, factory: Factory) -> None:
        desk = factory.desk()
        p3_old = desk.receive(priority="P3")["key"]
        p1 = desk.receive(priority="P1")["key"]
        p3_new = desk.receive(priority="P3")["key"]
        p2 = desk.receive(priority="P2")["key"]
        assert _keys(desk.trainer, desk) == [p1, p2, p3_old, p3_new]

    def test_views_unassigned_mine_and_filters(self, factory: Factory) -> None:
        desk = factory.desk()
        me, other = desk.trainees
        mine = desk.receive(category="payment")["key"]
        theirs = desk.receive(category="logistics")["key"]
        free = desk.receive(category="logistics", priority="P1")["key"]
        done = desk.receive()["key"]
        me.ok(f"/tickets/{mine}/claim")
        other.ok(f"/tickets/{theirs}/claim")
        me.ok(f"/tickets/{done}/claim")
        me.ok(f"/tickets/{done}/resolve", {"code": "solved", "summary": "ok"})
        assert _keys(me, desk, view="mine") == [mine]
        assert _keys(me, desk, view="unassigned") == [free]
        assert _keys(me, desk, view="active") == [free, mine, theirs]
        assert _keys(me, desk, category="logistics") == [free, theirs]
        assert _keys(me, desk, status="resolved") == [done]
        assert _keys(me, desk, priority="P1") == [free]
        assert _keys(me, desk, tier="L2") == []
        bad = me.get(f"/drills/{desk.drill_id}/tickets", params={"view": "everything"})
        assert bad.status_code == 422 and bad.json()["field"] == "view"
        bad = me.get(f"/drills/{desk.drill_id}/tickets", params={"status": "lost"})
        assert bad.status_code == 422 and bad.json()["field"] == "status"

    def test_cursor_pages_cover_everything_once(self, factory: Factory) -> None:
        desk = factory.desk()
        created = [desk.receive(priority=f"P{1 + n % 4}")["key"] for n in range(11)]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, object] = {"limit": 4}
            if cursor:
                params["cursor"] = cursor
            page = desk.trainer.get(f"/drills/{desk.drill_id}/tickets", params=params).json()
            seen += [t["key"] for t in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 3 and sorted(seen) == sorted(created) and len(seen) == len(set(seen))
        assert seen == _keys(desk.trainer, desk, limit=50)
        bad = desk.trainer.get(f"/drills/{desk.drill_id}/tickets", params={"cursor": "zzz"})
        assert bad.status_code == 422 and bad.json()["field"] == "cursor"
        too_many = desk.trainer.get(f"/drills/{desk.drill_id}/tickets", params={"limit": 999})
        assert too_many.status_code == 422 and too_many.json()["field"] == "limit"

    def test_rows_show_customer_and_channel(self, factory: Factory) -> None:
        desk = factory.desk()
        desk.receive(party=desk.refs["consumer"], channel="phone")
        row = desk.trainer.get(f"/drills/{desk.drill_id}/tickets").json()["items"][0]
        assert (row["customer"], row["channel"]) == ("王小明", "phone")


class TestSearch:
    def test_chinese_and_english_in_subjects_and_messages(self, factory: Factory) -> None:
        desk = factory.desk()
        refund = desk.receive(subject="申请退款", body="商品有质量问题，想退货")["key"]
        parcel = desk.receive(subject="Parcel stuck in customs", body="No update for days")["key"]
        agent = desk.trainees[0]
        agent.ok(f"/tickets/{parcel}/claim")
        agent.ok(f"/tickets/{parcel}/notes", {"body": "清关延误，联系物流"})

        def found(q: str) -> list[str]:
            response = agent.get("/tickets/search", params={"q": q})
            assert response.status_code == 200, response.text
            return [t["key"] for t in response.json() if t["key"] in (refund, parcel)]

        assert found("退款") == [refund]  # two characters: shorter than a trigram
        assert found("质量问题") == [refund]  # message text
        assert found("customs") == [parcel]
        assert found("CUSTOMS") == [parcel]  # case-insensitive
        assert found("清关") == [parcel]  # an internal note
        assert found("no update for") == [parcel]
        assert found("没有这个词") == []

    def test_like_wildcards_are_literal(self, factory: Factory) -> None:
        desk = factory.desk()
        percent = desk.receive(subject="Discount 50%_off not applied")["key"]
        other = desk.receive(subject="Discount fifty off")["key"]
        hits = [t["key"] for t in desk.trainer.get("/tickets/search", params={"q": "50%_"}).json()]
        assert percent in hits and other not in hits
        hits = [t["key"] for t in desk.trainer.get("/tickets/search", params={"q": "%"}).json()]
        assert percent in hits and other not in hits

    def test_search_inside_a_queue(self, factory: Factory) -> None:
        desk = factory.desk()
        wanted = desk.receive(subject="骑手态度恶劣")["key"]
        desk.receive(subject="其他问题")
        assert _keys(desk.trainer, desk, q="骑手") == [wanted]

    def test_empty_query_is_refused(self, factory: Factory) -> None:
        desk = factory.desk()
        response = desk.trainer.get("/tickets/search", params={"q": ""})
        assert response.status_code == 422 and response.json()["field"] == "q"
