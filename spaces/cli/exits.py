"""Exit codes and the one exception that ends the program with a clear message."""

EXIT_OK = 0
EXIT_ERROR = 1  # network trouble, a bad file, an unexpected answer
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_REFUSED = 3  # not signed in, not allowed, a listener trying to speak, removed
EXIT_ENDED = 4  # the Space has ended
EXIT_INTERRUPTED = 130  # Ctrl-C while signing in (listen and speak stop cleanly with 0)


class CliError(Exception):
    """Stops the command: `message` is printed on stderr and `code` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
