"""`credit serve`: the online scoring service (and delivery page) over the data directory."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from warehouse.paths import DataPaths

TOKEN_VARIABLE = "CREDIT_API_TOKEN"
LOCALHOST = "127.0.0.1"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace) -> int:
    # One OpenMP thread per LightGBM call, set before LightGBM loads: a request scores one or a few
    # rows, where waking a second thread costs more than it saves, and the service's two scoring
    # workers already keep both cores busy under load. The scores do not depend on it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # The event loop takes requests while a scoring worker computes: both want the GIL, and a
    # thread waiting for it waits the switch interval (5 ms by default) at worst, 1 ms here.
    sys.setswitchinterval(0.001)
    import uvicorn

    from assets.service.startup import build_service

    token = os.environ.get(TOKEN_VARIABLE) or None
    host = args.host
    if token is None:
        if host is not None and not _is_loopback(host):
            raise ValueError(
                f"set {TOKEN_VARIABLE} to listen on {host}: without a token the service is for this machine only"
            )
        host = LOCALHOST
        print(f"no {TOKEN_VARIABLE} set: listening on {LOCALHOST} only, and no endpoint asks for a token", flush=True)
    host = host or "0.0.0.0"
    app = build_service(DataPaths.from_env(), token, say=lambda line: print(line, flush=True))
    print(f"credit serve: listening on http://{host}:{args.port}", flush=True)
    uvicorn.run(app, host=host, port=args.port, log_level="warning", access_log=False)
    return 0
