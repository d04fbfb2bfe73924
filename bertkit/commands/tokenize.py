"""`bertkit tokenize` (pending: issue 2)."""

from bertkit.commands._pending import PASS_EVERYTHING, pending_command

COMMAND_KWARGS = PASS_EVERYTHING
command = pending_command("tokenize", "issue 2")
