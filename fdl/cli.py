"""The ``fdl`` command: ``fdl run``, ``fdl progress``, ``fdl milestones``, ``fdl doctor``.

Each is the same as ``python -m fdl.<command>``; ``fdl 3`` is short for
``fdl run 3``.
"""

from __future__ import annotations

import sys

COMMANDS = ("run", "progress", "milestones", "doctor")

USAGE = """usage: fdl COMMAND [...]

  fdl run TOPIC [options]   check a topic's exercises, then run its experiment
  fdl progress [command]    your progress: overview, mark, unmark, note, reset
  fdl milestones [--smoke]  run every milestone's topic against its target
  fdl doctor                versions, devices, data sets, progress file

`fdl run --help` and the others show their options."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        from .run import main as run_main

        return run_main(rest)
    if command == "progress":
        from .progress import main as progress_main

        return progress_main(rest)
    if command == "milestones":
        from .milestones import main as milestones_main

        return milestones_main(rest)
    if command == "doctor":
        from .doctor import main as doctor_main

        return doctor_main(rest)
    if not command.startswith("-"):  # `fdl 3` or `fdl topic03`
        from .curriculum import UnknownTopic, find_topic

        try:
            find_topic(command)
        except UnknownTopic:
            pass
        else:
            from .run import main as run_main

            return run_main(argv)
    print(f"fdl: unknown command {command!r}: the commands are {', '.join(COMMANDS)}, or a topic "
          f"(`fdl 3` runs topic 03)\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
