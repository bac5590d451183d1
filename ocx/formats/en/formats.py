"""English formats for OCX: ISO-like dates, and times with their zone (``T``: "UTC", "CET" …)
so an approver never guesses in which zone an effective date or a decision is."""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
# Input formats are not set: Django's English ones apply (the admin's widgets post them).
