"""The Olist marketplace lakehouse (seed 004): Kafka -> Delta bronze -> silver MERGE -> dbt gold."""
