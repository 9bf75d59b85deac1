"""The user action events domain; its assets live under the key prefix events/."""
