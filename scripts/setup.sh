#!/usr/bin/env bash
# Sets up everything shoprec needs, from only Python 3.11, Java 17 and Maven:
#   .venv/         the project's virtual environment, pinned by constraints.txt
#   build/jars/    Delta Lake's and S3A's jars, resolved from Maven Central by Maven
#   horovod        built once per machine (patched sdist), cached under ~/.cache/shoprec
# Idempotent: each step is skipped when its stamp matches its inputs, so a second
# run on a set-up machine takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv
STAMPS=build/stamps
mkdir -p "$STAMPS"

fingerprint() { cat "$@" | sha256sum | cut -c1-16; }

# 1. Virtual environment and pinned Python packages.
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
deps=$(fingerprint pyproject.toml constraints.txt)
if [ "$(cat "$STAMPS/python" 2>/dev/null)" != "$deps" ]; then
  echo "setup: installing Python packages (constraints.txt)"
  "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e '.[dev]'
  echo "$deps" > "$STAMPS/python"
fi

# 2. Delta Lake and S3A jars through Maven (no Ivy download when Spark starts).
jars=$(fingerprint scripts/delta-jars.pom.xml)
if [ "$(cat "$STAMPS/jars" 2>/dev/null)" != "$jars" ] || ! ls build/jars/*.jar >/dev/null 2>&1; then
  echo "setup: resolving Delta Lake and S3A jars with Maven"
  rm -rf build/jars
  mvn -q -B -f scripts/delta-jars.pom.xml dependency:copy-dependencies \
    -DincludeArtifactIds=delta-spark_2.12,delta-storage,hadoop-aws,aws-java-sdk-bundle -DoutputDirectory="$PWD/build/jars"
  echo "$jars" > "$STAMPS/jars"
fi

# 3. Horovod, built from the patched sdist once per machine and torch version.
if [ "${SHOPREC_SKIP_HOROVOD:-0}" != "1" ]; then
  bash scripts/build_horovod_wheel.sh "$VENV/bin/python"
fi
