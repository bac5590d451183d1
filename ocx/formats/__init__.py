"""Date formats (``FORMAT_MODULE_PATH``): every time the admin shows carries its time zone."""
