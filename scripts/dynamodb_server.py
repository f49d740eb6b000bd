"""Moto's DynamoDB-compatible server for the tests, on loopback only.

It serves one request at a time (werkzeug threaded=False) so that a single-item conditional
write is atomic, as it is in DynamoDB. It picks a free port and writes it to the file named by
the first argument once it is listening.
"""

import os
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def main() -> None:
    port_file = sys.argv[1]
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1", 0, app, threaded=False, processes=1, request_handler=MotoRequestHandler
    )
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_port))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
