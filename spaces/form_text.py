"""The rule every free-text field follows: trimmed, perhaps required, at most so many characters.
A refusal names its field, so the form shows it beside the box."""

from .errors import Invalid


def form_text(
    value: str | None, field: str, *, most: int, plural: str, empty: str | None = None
) -> str:
    """`value` trimmed. With `empty`, nothing left is refused with that message; longer than
    `most` is refused as "`plural` are at most `most` characters."."""
    text = (value or "").strip()
    if empty is not None and not text:
        raise Invalid(empty, field)
    if len(text) > most:
        raise Invalid(f"{plural} are at most {most} characters.", field)
    return text
