"""
Inject an incoming (MO) message into a running simulator from a shell:

    python -m gateway.simulator.mo --url http://127.0.0.1:8026 --from 79001234567 --to 1234 --text "hi"

It POSTs to the simulator's ``/mo`` (``http_listen`` must be set) and prints the
answer; the exit status is 0 when the ESME acknowledged the message.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request

__all__ = ["main"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.simulator.mo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8026", help="the simulator's HTTP address")
    parser.add_argument("--from", dest="source", required=True, help="the sending handset")
    parser.add_argument("--to", dest="destination", required=True, help="the number it was sent to")
    parser.add_argument("--text", required=True)
    parser.add_argument("--system-id", default="", help="only to receivers bound with this system_id")
    args = parser.parse_args(argv)
    body = {"from": args.source, "to": args.destination, "text": args.text}
    if args.system_id:
        body["system_id"] = args.system_id
    request = urllib.request.Request(args.url.rstrip("/") + "/mo", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as e:
        print(f"{e.code}: {e.read().decode()}", file=sys.stderr)
    except OSError as e:
        print(f"cannot reach {args.url}: {e}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
