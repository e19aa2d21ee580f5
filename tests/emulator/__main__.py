"""CLI: ``python -m tests.emulator --scenario demo [--port N] [--time-scale X] [--throttling on|off] [--env-file PATH]``."""

import argparse
import json
import shlex
import signal
import sys
import threading

from .app import Emulator


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description="Local Azure emulator over HTTPS.")
    parser.add_argument("--scenario", default="default", help="scenario name (tests/emulator/scenarios) or path to .yaml/.json")
    parser.add_argument("--port", type=int, default=0, help="port of the main listener (default: any free port)")
    parser.add_argument("--time-scale", type=float, default=None, help="simulated seconds per real second (overrides the scenario)")
    parser.add_argument("--throttling", choices=("on", "off"), default=None,
                        help="Azure's rate limits on or off for every scenario (default: as the scenario says)")
    parser.add_argument("--env-file", default=None, help="write sourceable 'export VAR=value' lines here")
    parser.add_argument("--export", action="append", default=[], metavar="NAME=VALUE",
                        help="also write this variable to the env file (repeatable; hack/emulator.sh adds the collection path)")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.export)

    throttling = None if args.throttling is None else args.throttling == "on"
    emu = Emulator(scenario=args.scenario, port=args.port, time_scale=args.time_scale, throttling=throttling).start()
    env = emu.env()
    if args.env_file:
        with open(args.env_file, "w", encoding="utf-8") as handle:
            for key, value in dict(env, **extra).items():
                handle.write("export %s=%s\n" % (key, shlex.quote(str(value))))
    stop = threading.Event()

    def _stop(signum, frame):  # pylint: disable=unused-argument
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    ready = {"base_url": emu.base_url, "host": emu.host, "ca_path": emu.ca_path, "foreign_base_url": emu.foreign_base_url, "env": env}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
