#!/usr/bin/env bash
# Installs what Sluice's tests need on a fresh Debian machine: the real psql client, the C tool
# chain that builds librdkafka (bundled by rdkafka), and tansu, the independent Kafka-protocol
# broker used by the durability tests (built once, cached outside the clone).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need=()
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v make >/dev/null 2>&1 || need+=(make)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v perl >/dev/null 2>&1 || need+=(perl)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
dpkg -s zlib1g-dev >/dev/null 2>&1 || need+=(zlib1g-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

TANSU_ROOT="${SLUICE_TANSU_ROOT:-$HOME/.cache/sluice/tansu}"
if [ ! -x "$TANSU_ROOT/bin/tansu" ]; then
  echo "building tansu 0.6.0 into $TANSU_ROOT (about 15 minutes, once)"
  cargo install tansu --version 0.6.0 --locked --features libsql,dynostore --root "$TANSU_ROOT"
fi
echo "tansu: $TANSU_ROOT/bin/tansu"

# Confluent's Python client with its Schema Registry client and Avro serializers, for the
# interop test (crates/server/tests/python_interop.rs), in a virtualenv cached outside the clone.
VENV="${SLUICE_PYTHON_VENV:-$HOME/.cache/sluice/venv}"
if ! "$VENV/bin/python3" -c "import confluent_kafka.schema_registry.avro, fastavro, jsonschema, google.protobuf" >/dev/null 2>&1; then
  echo "installing confluent-kafka[avro,json,protobuf,schemaregistry] into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python3" -m pip install --quiet "confluent-kafka[avro,json,protobuf,schemaregistry]==2.16.2"
fi
echo "python for interop tests: $VENV/bin/python3"
