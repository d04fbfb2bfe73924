"""`bertkit eval` (pending: issue 4)."""

from bertkit.commands._pending import PASS_EVERYTHING, pending_command

COMMAND_KWARGS = PASS_EVERYTHING
command = pending_command("eval", "issue 4")
