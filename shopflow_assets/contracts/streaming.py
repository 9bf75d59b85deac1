"""What every Kafka stream's contract shares: the dead-letter reasons the streaming library gives itself."""

from __future__ import annotations

# A record longer than its stream's `MAX_RECORD_BYTES` is dead-lettered with this reason before any parsing:
# a megabyte "click" is a producer bug or an attack, and parsing it would slow every record of its batch.
# The dead letter keeps the raw value whole (nothing is lost).
REASON_OVERSIZED = "oversized_record"
# Every stream carries JSON objects: a record that is not JSON, or JSON but not an object, is dead-lettered
# with one of these (`resources.streaming.parse.json_object_checks`).
REASON_NOT_JSON = "not_json"
REASON_NOT_OBJECT = "not_a_json_object"
# An event time beyond now + this skew cannot be real: in the clicks it would move the watermark into the
# future (every later, honest click dropped as late); in the user actions a year like 9999 makes one
# partition per date and overflows pandas after 2262. Both streams dead-letter it with this reason
# (`resources.streaming.parse.beyond_future_skew`).
REASON_FUTURE_TIMESTAMP = "future_timestamp"
DEFAULT_MAX_FUTURE_SKEW = "5 minutes"
