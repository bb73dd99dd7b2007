"""moto's server with its requests serialized.

moto 5.2's DynamoDB TransactWriteItems deep-copies the table without a lock, so a concurrent
write to the same table crashes it ("RuntimeError: dictionary changed size during iteration",
an HTML 500 to the client). moto is CPU-bound Python under the GIL anyway: one request at a time
costs little throughput and makes concurrency tests (races on one table) deterministic.
Usage: python scripts/moto_server.py PORT
With MOTO_TARGET_LOG set, each request's X-Amz-Target (e.g. TrentService.Sign) is appended to
that file, one a line: scripts/bench counts KMS Sign calls per request with it.

An operation moto does not implement (KMS GenerateDataKeyPair) raises NotImplementedError, which
werkzeug turns into an HTML 500 that the SDK retries as a server fault. It is answered instead as
a JSON error the SDK reads, `501 NotImplemented`: a code real KMS never sends, on which
`wxauth-admin` generates an envelope signing key itself (tools/provision/src/signing_keys.rs).
"""

import json
import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class Serialized:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        target_log = os.environ.get("MOTO_TARGET_LOG")
        self.targets = open(target_log, "a", buffering=1) if target_log else None

    def __call__(self, environ, start_response):
        with self.lock:
            if self.targets:
                self.targets.write(environ.get("HTTP_X_AMZ_TARGET", "-") + "\n")
            # Consume the whole body inside the lock: a streamed response would escape it.
            try:
                return list(self.app(environ, start_response))
            except NotImplementedError as e:
                body = json.dumps({"__type": "NotImplemented", "message": str(e)}).encode()
                start_response("501 Not Implemented", [("Content-Type", "application/x-amz-json-1.1"),
                                                       ("Content-Length", str(len(body)))])
                return [body]


if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[1]), Serialized(DomainDispatcherApplication(create_backend_app)), threaded=True)
