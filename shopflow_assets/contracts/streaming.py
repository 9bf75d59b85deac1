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
