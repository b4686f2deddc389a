"""`spaces`: the terminal client for Spaces.

    spaces login URL [--username U] [--password P]
    spaces listen URL/spaces/<id> [--out file.wav] [--seconds N] [--pcm]
    spaces speak URL/spaces/<id> (--file speech.wav | --mic) [--loop] [--pcm]

See docs/cli.md.
"""

import argparse
import sys

from . import commands
from .api import SpaceURL
from .exits import EXIT_INTERRUPTED, CliError
from .meter import Meter


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="spaces", description="Listen to and speak in Spaces from a terminal."
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    login = sub.add_parser("login", help="sign in to a server and keep a token for it")
    login.add_argument("url", help="the server, for example https://spaces.example.org")
    login.add_argument("--username", "-u")
    login.add_argument("--password", "-p", help="asked for when missing (safer)")

    meter = argparse.ArgumentParser(add_help=False)
    meter.add_argument(
        "--meter",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the level meter on stderr (default: when stderr is a terminal)",
    )
    meter.add_argument(
        "--pcm",
        action="store_true",
        help="send and receive bare PCM (protocol v1, about 270 kbit/s) instead of Opus",
    )

    listen = sub.add_parser("listen", parents=[meter], help="listen to a Space")
    listen.add_argument("url", help="the Space, for example https://spaces.example.org/spaces/12")
    listen.add_argument("--out", "-o", metavar="FILE.wav", help="record to a WAV file, not play")
    listen.add_argument("--seconds", "-t", type=_positive, metavar="N", help="stop after N seconds")

    speak = sub.add_parser("speak", parents=[meter], help="speak in a Space (host or speaker)")
    speak.add_argument("url", help="the Space, for example https://spaces.example.org/spaces/12")
    source = speak.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", "-f", metavar="SPEECH.wav", help="stream an audio file")
    source.add_argument("--mic", action="store_true", help="stream the microphone")
    speak.add_argument("--loop", action="store_true", help="repeat the file until Ctrl-C")
    speak.add_argument("--hear", action="store_true", help="also play the others (use headphones)")
    return top


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise argparse.ArgumentTypeError("give a number of seconds above 0")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    meter = Meter(args.command, enabled=getattr(args, "meter", None))
    try:
        if args.command == "login":
            return commands.login(args.url, args.username, args.password, meter)
        url = SpaceURL.parse(args.url)
        if args.command == "listen":
            return commands.listen(url, args.out, args.seconds, meter, args.pcm)
        if args.loop and args.mic:
            raise CliError("--loop repeats a --file; it does not apply to --mic.")
        return commands.speak(url, args.file, args.mic, args.loop, args.hear, meter, args.pcm)
    except CliError as exc:
        meter.clear()
        print(f"spaces: {exc.message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        meter.clear()
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
