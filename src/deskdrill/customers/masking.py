"""Contact masking: 138****1234 and a***@example.com until someone reveals, with a reason."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) <= 7:
        return digits[:1] + "*" * (len(digits) - 1)
    return digits[:3] + "****" + digits[-4:]


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return (local[:1] or "*") + "***@" + domain


def mask_address(address: str | None) -> str | None:
    """Keep the city and district (the first six characters), hide the street and number."""
    if not address:
        return address
    return address[:6] + "****" if len(address) > 6 else "****"
