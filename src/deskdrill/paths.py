"""Where shipped resources live: in the package of a wheel, at the root of a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT_ROOT = _PACKAGE.parent.parent


def resource_dir(name: str) -> Path:
    """Return the directory ``name`` (web, scenarios, migrations).

    A wheel carries them under ``deskdrill/_resources``; an editable install or a plain
    checkout finds them at the repository root.
    """
    bundled = _PACKAGE / "_resources" / name
    if bundled.is_dir():
        return bundled
    checkout = _CHECKOUT_ROOT / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"deskdrill resource directory {name!r} not found (looked in {bundled} and {checkout})"
    )
