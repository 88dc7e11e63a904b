"""Field validators the schemas of every domain share."""

from __future__ import annotations

from marshmallow import validate

# Blank is empty: "   " (or a full-width space typed by an input method) names nothing. A Regexp,
# so the push's precompiled field checks still test it inline (`field_checks._same_test`). The
# value is refused, never trimmed: a push stores what the phone sent, not what the schema loads,
# so a trim would store the same input differently over the web and over sync.
NOT_BLANK = validate.Regexp(r"\s*\S", error="Must not be empty or only whitespace.")
