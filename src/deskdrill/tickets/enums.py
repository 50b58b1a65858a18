from enum import StrEnum


class Channel(StrEnum):
    phone = "phone"
    chat = "chat"
    email = "email"
    app = "app"


class Category(StrEnum):
    order = "order"
    refund_return = "refund_return"
    logistics = "logistics"
    payment = "payment"
    account_security = "account_security"
    product_quality = "product_quality"
    service_complaint = "service_complaint"
    safety_incident = "safety_incident"
    lost_item = "lost_item"
    fare_dispute = "fare_dispute"
    other = "other"


class Priority(StrEnum):
    """P1 sorts first, so the text itself orders queues."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Severity(StrEnum):
    sev1 = "sev1"
    sev2 = "sev2"
    sev3 = "sev3"
    sev4 = "sev4"


class Status(StrEnum):
    new = "new"
    open = "open"
    pending_customer = "pending_customer"
    pending_third_party = "pending_third_party"
    resolved = "resolved"
    closed = "closed"


ACTIVE_STATUSES = frozenset(
    {Status.new, Status.open, Status.pending_customer, Status.pending_third_party}
)


class MessageKind(StrEnum):
    customer = "customer"
    reply = "reply"
    note = "note"
    to_third_party = "to_third_party"
    third_party = "third_party"


class CompensationKind(StrEnum):
    refund = "refund"
    coupon = "coupon"
    goodwill_credit = "goodwill_credit"
    counterfeit_compensation = "counterfeit_compensation"


class CompensationStatus(StrEnum):
    requested = "requested"
    approved = "approved"
    rejected = "rejected"
    paid = "paid"


class OrderActionKind(StrEnum):
    return_authorisation = "return_authorisation"
    exchange = "exchange"
    reship = "reship"
    cancel = "cancel"
    change_address = "change_address"


class ResolutionCode(StrEnum):
    solved = "solved"
    refunded = "refunded"
    replaced = "replaced"
    compensated = "compensated"
    information_provided = "information_provided"
    duplicate = "duplicate"
    no_response = "no_response"
    rejected_out_of_policy = "rejected_out_of_policy"
    handed_to_authorities = "handed_to_authorities"
    other = "other"
