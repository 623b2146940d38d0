"""The message pipeline: accept → validate → compliance → encode/segment →
queue → rate limit → submit → correlate receipts → events."""
