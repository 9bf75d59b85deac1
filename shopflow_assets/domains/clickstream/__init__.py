"""The click stream domain; its assets live under the key prefix clickstream/."""
