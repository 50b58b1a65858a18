"""Words the pages show from data (states, categories, kinds ...), listed here so that
message extraction puts them in the catalogs; templates translate them with ``_(value)``."""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for extraction without translating it here."""
    return message


WORDS = [
    # drill clock
    N_("draft"), N_("running"), N_("paused"), N_("finished"),
    # SLA timers and their states
    N_("first_response"), N_("next_response"), N_("resolution"), N_("escalation"),
    N_("keep_informed"), N_("ok"), N_("warning"), N_("breached"), N_("met"),
    # ticket status
    N_("new"), N_("open"), N_("pending_customer"), N_("pending_third_party"),
    N_("resolved"), N_("closed"),
    # channels
    N_("phone"), N_("chat"), N_("email"), N_("app"),
    # categories
    N_("order"), N_("refund_return"), N_("logistics"), N_("payment"),
    N_("account_security"), N_("product_quality"), N_("service_complaint"),
    N_("safety_incident"), N_("lost_item"), N_("fare_dispute"), N_("other"),
    # message kinds
    N_("customer"), N_("reply"), N_("note"), N_("to_third_party"), N_("third_party"),
    # compensation kinds and states
    N_("refund"), N_("coupon"), N_("goodwill_credit"), N_("counterfeit_compensation"),
    N_("requested"), N_("approved"), N_("rejected"), N_("paid"),
    # order status
    N_("placed"), N_("shipped"), N_("delivered"), N_("completed"), N_("cancelled"),
    N_("returned"),
    # resolution codes
    N_("solved"), N_("refunded"), N_("replaced"), N_("compensated"),
    N_("information_provided"), N_("duplicate"), N_("no_response"),
    N_("rejected_out_of_policy"), N_("handed_to_authorities"),
    # actions a scenario expects (the debrief's "did: ...")
    N_("contact_third_party"), N_("escalate"), N_("incident_report"), N_("order_action"),
    # actions a refusal names (tickets.recording.authorize), beyond the words here
    N_("compensate"), N_("pay_compensation"),
    # tiers
    N_("supervisor"), N_("incident_desk"),
    # roles
    N_("trainee"), N_("trainer"), N_("qa"), N_("admin"),
    # scenario difficulty
    N_("intro"), N_("easy"), N_("medium"), N_("hard"), N_("expert"),
    # the headless runner's bot kinds
    N_("careful"), N_("sloppy"),
    # order actions
    N_("return_authorisation"), N_("exchange"), N_("reship"), N_("cancel"),
    N_("change_address"),
    # trail events (the run report's evidence), beyond the words above
    N_("receive"), N_("claim"), N_("assign"), N_("unassign"), N_("transfer"),
    N_("change_priority"), N_("pend_customer"), N_("pend_third_party"), N_("resume"),
    N_("customer_message"), N_("third_party_message"), N_("de_escalate"),
    N_("compensation_requested"), N_("compensation_approved"), N_("compensation_rejected"),
    N_("compensation_paid"), N_("record_finding"), N_("resolve"), N_("close"), N_("reopen"),
    N_("tag"), N_("link"), N_("merge"), N_("merged_from"), N_("reveal_contact"),
    N_("customer_rating"), N_("sla_warning"), N_("sla_breach"),
    # error page titles (web.errors)
    N_("Bad request"), N_("Please log in"), N_("Not allowed"), N_("Not found"),
    N_("Someone else changed this"), N_("Please check the form"), N_("Too many attempts"),
    N_("Please wait"),
    N_("Error"),
]  # fmt: skip
