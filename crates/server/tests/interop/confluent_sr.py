"""Confluent's own Python client against Sluice: its Schema Registry client and its Avro, JSON
Schema and Protobuf serializers talk to Sluice's registry, its producer and consumer to Sluice's
Kafka.

    confluent_sr.py FORMAT produce BOOTSTRAP REGISTRY_URL TOPIC    (JSON objects, one per line, on stdin)
    confluent_sr.py FORMAT consume BOOTSTRAP REGISTRY_URL TOPIC N  (prints N records as JSON lines)

FORMAT is avro, json or protobuf. Records produced are orders (id, item, amount, tags, note);
records consumed are the sink rows (ID, ITEM, AMOUNT) Sluice writes. Used by
crates/server/tests/python_interop.rs; exits non-zero on any failure.
"""

import json
import sys

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext

ORDER_AVRO = json.dumps(
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

ORDER_JSON_SCHEMA = json.dumps(
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Order",
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "item": {"type": "string"},
            "amount": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "note": {"oneOf": [{"type": "null"}, {"type": "string"}]},
        },
        "required": ["id", "item", "amount", "tags"],
    }
)


def protobuf_class(file_name, package, message, fields):
    """A message class built at run time (no protoc): fields are (name, number, type, repeated)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name=file_name, package=package, syntax="proto3")
    m = fdp.message_type.add(name=message)
    for name, number, kind, repeated in fields:
        m.field.add(
            name=name,
            number=number,
            type=getattr(descriptor_pb2.FieldDescriptorProto, "TYPE_" + kind),
            label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
            if repeated
            else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName(f"{package}.{message}" if package else message)
    return message_factory.GetMessageClass(desc)


def order_class():
    return protobuf_class(
        "order.proto",
        "com.example",
        "Order",
        [
            ("id", 1, "INT64", False),
            ("item", 2, "STRING", False),
            ("amount", 3, "DOUBLE", False),
            ("tags", 4, "STRING", True),
            ("note", 5, "STRING", False),
        ],
    )


def sink_class():
    # The schema Sluice generates for a sink of (ID BIGINT, ITEM STRING, AMOUNT DOUBLE), as
    # ksqlDB does: message ConnectDefault1, fields numbered from 1 in column order.
    return protobuf_class(
        "sink.proto",
        "",
        "ConnectDefault1",
        [("ID", 1, "INT64", False), ("ITEM", 2, "STRING", False), ("AMOUNT", 3, "DOUBLE", False)],
    )


def serializer(fmt, registry):
    if fmt == "avro":
        from confluent_kafka.schema_registry.avro import AvroSerializer

        return AvroSerializer(registry, ORDER_AVRO)
    if fmt == "json":
        from confluent_kafka.schema_registry.json_schema import JSONSerializer

        return JSONSerializer(ORDER_JSON_SCHEMA, registry)
    if fmt == "protobuf":
        from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

        cls = order_class()
        inner = ProtobufSerializer(cls, registry, {"use.deprecated.format": False})

        def to_message(obj, ctx):
            msg = cls()
            msg.id = obj["id"]
            msg.item = obj["item"]
            msg.amount = obj["amount"]
            msg.tags.extend(obj["tags"])
            if obj.get("note") is not None:
                msg.note = obj["note"]
            return inner(msg, ctx)

        return to_message
    sys.exit(f"unknown format {fmt}")


def deserializer(fmt, registry):
    if fmt == "avro":
        from confluent_kafka.schema_registry.avro import AvroDeserializer

        return AvroDeserializer(registry)
    if fmt == "json":
        from confluent_kafka.schema_registry.json_schema import JSONDeserializer

        # No reader schema: the writer's schema (the one Sluice registered) validates the record.
        return JSONDeserializer(None, schema_registry_client=registry)
    if fmt == "protobuf":
        from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer

        inner = ProtobufDeserializer(sink_class(), {"use.deprecated.format": False})

        def to_dict(data, ctx):
            msg = inner(data, ctx)
            return {f.name: getattr(msg, f.name) for f in msg.DESCRIPTOR.fields}

        return to_dict
    sys.exit(f"unknown format {fmt}")


def produce(fmt, bootstrap, registry_url, topic):
    registry = SchemaRegistryClient({"url": registry_url})
    serialize = serializer(fmt, registry)
    producer = Producer({"bootstrap.servers": bootstrap})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        value = serialize(json.loads(line), SerializationContext(topic, MessageField.VALUE))
        producer.produce(topic, value=value)
    if producer.flush(30) != 0:
        sys.exit("records were not delivered")
    # The registry must now know the subject the serializer registered.
    latest = registry.get_latest_version(f"{topic}-value")
    print(json.dumps({"subject": latest.subject, "id": latest.schema_id}))


def consume(fmt, bootstrap, registry_url, topic, n):
    registry = SchemaRegistryClient({"url": registry_url})
    deserialize = deserializer(fmt, registry)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"python-interop-{fmt}",
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
        value = deserialize(msg.value(), SerializationContext(topic, MessageField.VALUE))
        print(json.dumps(value, sort_keys=True))
        got += 1
    consumer.close()
    if got < n:
        sys.exit(f"only {got} of {n} records arrived")


if __name__ == "__main__":
    fmt, mode, bootstrap, registry_url, topic = sys.argv[1:6]
    if mode == "produce":
        produce(fmt, bootstrap, registry_url, topic)
    elif mode == "consume":
        consume(fmt, bootstrap, registry_url, topic, int(sys.argv[6]))
    else:
        sys.exit(f"unknown mode {mode}")
