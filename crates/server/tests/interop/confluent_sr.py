"""Confluent's own Python client against Sluice: its Schema Registry client and Avro serializers
talk to Sluice's registry, its producer and consumer to Sluice's Kafka.

    confluent_avro.py produce BOOTSTRAP REGISTRY_URL TOPIC   (reads JSON objects, one per line, on stdin)
    confluent_avro.py consume BOOTSTRAP REGISTRY_URL TOPIC N (prints N records as JSON lines)

Used by crates/server/tests/python_interop.rs; exits non-zero on any failure.
"""

import json
import sys

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

ORDER_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Order",
        "namespace": "com.example",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "item", "type": "string"},
            {"name": "amount", "type": "double"},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "note", "type": ["null", "string"], "default": None},
        ],
    }
)


def produce(bootstrap, registry_url, topic):
    registry = SchemaRegistryClient({"url": registry_url})
    serializer = AvroSerializer(registry, ORDER_SCHEMA)
    producer = Producer({"bootstrap.servers": bootstrap})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        value = serializer(json.loads(line), SerializationContext(topic, MessageField.VALUE))
        producer.produce(topic, value=value)
    if producer.flush(30) != 0:
        sys.exit("records were not delivered")
    # The registry must now know the subject the serializer registered.
    latest = registry.get_latest_version(f"{topic}-value")
    print(json.dumps({"subject": latest.subject, "id": latest.schema_id}))


def consume(bootstrap, registry_url, topic, n):
    registry = SchemaRegistryClient({"url": registry_url})
    deserializer = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "python-interop",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    got = 0
    polls = 0
    while got < n and polls < 600:
        polls += 1
        msg = consumer.poll(0.1)
        if msg is None:
            continue
        if msg.error():
            sys.exit(f"consumer error: {msg.error()}")
        value = deserializer(msg.value(), SerializationContext(topic, MessageField.VALUE))
        print(json.dumps(value, sort_keys=True))
        got += 1
    consumer.close()
    if got < n:
        sys.exit(f"only {got} of {n} records arrived")


if __name__ == "__main__":
    mode, bootstrap, registry_url, topic = sys.argv[1:5]
    if mode == "produce":
        produce(bootstrap, registry_url, topic)
    elif mode == "consume":
        consume(bootstrap, registry_url, topic, int(sys.argv[5]))
    else:
        sys.exit(f"unknown mode {mode}")
