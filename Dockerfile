# syntax=docker/dockerfile:1
#
# luna-autoscaler container image.
#
# Two stages: the builder turns the source tree into a wheel and installs it, with the cloud extras chosen by
# EXTRAS, into a virtualenv; the runtime stage copies only that virtualenv onto a slim Python image. No compiler,
# no pip cache and no source tree end up in the image.
#
# The runtime is made for a read-only root filesystem: bytecode is compiled at build time, Python writes no .pyc,
# and the only writable place the process needs is /tmp (mount an emptyDir there; deploy/base does).
#
#   docker build -t luna-autoscaler:0.1.0-aws .                              # AWS (the default EXTRAS)
#   docker build --build-arg EXTRAS=gcp -t luna-autoscaler:0.1.0-gcp .       # one image per cloud keeps it small
#   docker build --build-arg EXTRAS=aws,gcp,azure,oci -t luna-autoscaler:0.1.0-all .
#   docker build --build-arg EXTRAS= -t luna-autoscaler:0.1.0-core .         # core only (fake provider, simulate)
#
# The entrypoint is `luna-autoscaler run`; arguments given to the container are its flags. Other commands:
#   docker run --rm --entrypoint luna-autoscaler luna-autoscaler:0.1.0-aws simulate

# A Debian-based slim image: glibc wheels of the cloud SDKs install as-is. Pin a digest in your own build
# (python:3.11-slim-bookworm@sha256:...) for byte-for-byte reproducible images.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
# Cloud SDKs to install, as extras of the distribution: aws, gcp, azure, oci, comma-separated, or empty.
ARG EXTRAS=aws
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# What the wheel is built from (pyproject.toml names README.md as the long description).
COPY pyproject.toml README.md ./
COPY luna_autoscaler ./luna_autoscaler
COPY providers ./providers
COPY pricing ./pricing
RUN python -m pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install "$(ls /dist/luna_autoscaler-*.whl)[${EXTRAS}]" \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
 && /opt/venv/bin/luna-autoscaler --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="luna-autoscaler" \
      org.opencontainers.image.description="Node autoscaler for GPU Kubernetes clusters (EKS, GKE, AKS, OKE)" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed non-root uid/gid (the distroless "nonroot" one) so that runAsNonRoot can be verified by the kubelet.
RUN groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin nonroot
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/cache
USER 65532:65532
WORKDIR /tmp
# 8080: Prometheus /metrics; 8081: /healthz (liveness) and /readyz (readiness). The Deployment's probes use them.
EXPOSE 8080 8081
ENTRYPOINT ["luna-autoscaler", "run"]
