"""The terminal consoles every command shares: no soft wrapping (one message stays one line, as
scripts and the tests expect) and no automatic highlighting of text taken from images."""
from rich.console import Console

out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
