"""The streaming library: Spark Structured Streaming queries run bounded (`availableNow`) or continuously,
checkpointed in the lake. It knows no domain: a flow (page views, user actions, Olist bronze) uses it.

- `source`: a Kafka topic as a stream, with its Kafka metadata columns;
- `parse`: JSON field helpers, dead-letter frames, the batch-keyed Parquet write;
- `runner`: `StreamingRunner` starts queries with their checkpoint and trigger, waits, sums progress;
- `checkpoints`: what a checkpoint has committed, read without Spark (sensors, lag);
- `flow`: `StreamFlowConfig` and `StreamFlow`, the one interface every flow implements;
- `resource`: the thin `SparkStreamingResource`, `BoundedStreamRunConfig` and `run_bounded_from_asset`;
- `asset`: `BoundedStreamAsset`, the bounded-stream asset built from a domain's declaration, and its checks.

The Kafka lag sensor that launches bounded runs is automation: shopflow_assets/domains/kafka_sensors.py.
"""
