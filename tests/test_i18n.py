"""Every message of the pages has its Simplified Chinese translation, and the catalogs are
current with the templates and page code (run scripts/messages.sh after changing text)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from deskdrill.web import i18n

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _extracted() -> set[str]:
    found: set[str] = set()
    method_map = [("src/deskdrill/web/**.py", "python"), ("web/templates/**.html", "jinja2")]
    keywords = {"_": None, "N_": None}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_page_message_is_translated_into_chinese() -> None:
    with open(i18n.catalog_path("zh"), "rb") as source:
        catalog = read_po(source)
    translated = {m.id: m.string for m in catalog if m.id}
    messages = _extracted()
    assert len(messages) > 150
    missing = sorted(m for m in messages if not translated.get(m))
    assert not missing, f"untranslated (run scripts/messages.sh, then translate): {missing}"
    for message in messages:
        # Placeholders survive translation, so formatting never fails in Chinese.
        expected = sorted(PLACEHOLDER.findall(message))
        assert expected == sorted(PLACEHOLDER.findall(translated[message])), message


def test_the_language_of_a_request() -> None:
    assert i18n.negotiate("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert i18n.negotiate("en-GB,en;q=0.9") == "en"
    assert i18n.negotiate("fr-FR") == "en"
    i18n.use("zh")
    assert i18n._("Log in") == "登录"
    assert i18n.word("pending_customer") == "等待客户"
    i18n.use("en")
    assert i18n.word("pending_customer") == "pending customer"
    i18n.use("xx")
    assert i18n.current() == "en"


def test_how_long_a_ticket_has_waited() -> None:
    from datetime import UTC, datetime, timedelta

    from deskdrill.web.templating import age

    start = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    cases = [
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=12), "12m"),
        (timedelta(hours=1, minutes=5), "1h 05m"),
        (timedelta(days=2, hours=3), "2d 3h"),
        (-timedelta(seconds=5), "0s"),
    ]
    for waited, shown in cases:
        assert age(start, start + waited) == shown
    assert age(None, start) == "—"


def test_the_debriefs_checks_in_chinese() -> None:
    from deskdrill.web.checks import check_text

    i18n.use("zh")
    try:
        assert check_text("did: contact third party") == "已执行：联系第三方"
        escalate = check_text("escalate to incident_desk within 5 min")
        assert escalate == "在 5 分钟 内升级到 事件处理台"
        assert check_text("greeting macro opens the first reply") == "首次回复以问候话术开头"
        assert check_text("refunded 20.00") == "已退款 20.00"
        assert check_text("60.8 min") == "60.8 分钟"
        owed = check_text("refund 0 of 76.00; coupon 0 of 20; order action reship")
        assert owed == "退款 0 / 应得 76.00; 优惠券 0 / 应得 20; 订单操作：补发"
        assert check_text("something new") == "something new"  # unknown: as written
    finally:
        i18n.use("en")
    assert check_text("did: contact third party") == "did: contact third party"


# Sentences as the domain writes them (tickets, compensation, the scenario hooks).
DOMAIN_SENTENCES = [
    "only trainers and admins may change priority",
    "ticket DD-000007 is assigned to someone else; only they or a trainer can change it",
    "you already hold ticket DD-000007",
    "ticket DD-000007 was already claimed by someone else",
    "ticket DD-000007 is not assigned to anyone",
    "ticket DD-000007 is already P2",
    "ticket DD-000007 is a major incident: file the incident report first "
    "(POST /api/v1/tickets/DD-000007/incident-report)",
    "a refund needs an order on the ticket; ticket DD-000007 has none",
    "refund of 80.00 exceeds what is left to refund on order F-1: 76.00 paid, 0.00 already "
    "refunded, 0.00 awaiting approval (at most 76.00 more)",
    "a coupon needs an amount",
    "counterfeit compensation needs a counterfeit finding for item 'SKU-1' on this ticket first",
    "compensation 2 is paid; only requested ones can be approved or rejected",
    "refund of 500.00 is above your approval limit; it needs someone with a higher limit",
    "a request by wang is decided by a higher role or tier (L1 < L2 < supervisor / incident "
    "desk < trainer < admin)",
    "order F-1 is delivered; cancel is only possible before it ships (use a return "
    "authorisation or reship instead)",
    "order F-1 is shipped; return_authorisation needs a delivered order",
    "cannot reply a ticket that is closed; reopen it first. From closed the next steps are: reopen",
    "the drill is finished: its tickets stay as they were when it ended",
    "only trainers and admins may customer rating",
    "claim ticket DD-000007 first: only its assignee (or a trainer) may pay compensation",
    "claim ticket DD-000007 first: only its assignee (or a trainer) may compensate",
    "claim ticket DD-000007 first: only its assignee (or a trainer) may order action",
    "counterfeit compensation needs an order on the ticket; ticket DD-000007 has none",
    "a finding about an item needs an order on the ticket; ticket DD-000007 has none",
    "a reship needs an order on the ticket; ticket DD-000007 has none",
    "the drill is still catching up after a clock jump; try again in a moment",
]
# The values a sentence keeps as they are.
VALUES = re.compile(r"DD-\d+|F-1|SKU-1|wang|P2|L1|L2")


def test_the_domains_refusals_read_in_chinese() -> None:
    from deskdrill.web.domain_text import domain_text

    i18n.use("zh")
    try:
        for sentence in DOMAIN_SENTENCES:
            told = domain_text(sentence)
            assert told != sentence and re.search(r"[\u4e00-\u9fff]", told), sentence
            assert "%(" not in told, told
            assert not re.search(r"[A-Za-z]{2,}", VALUES.sub("", told)), told  # no English left
    finally:
        i18n.use("en")
    assert domain_text(DOMAIN_SENTENCES[0]) == DOMAIN_SENTENCES[0]
