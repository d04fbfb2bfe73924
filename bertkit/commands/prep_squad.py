"""`bertkit prep squad` (pending: issue 3)."""

from bertkit.commands._pending import PASS_EVERYTHING, pending_command

COMMAND_KWARGS = PASS_EVERYTHING
command = pending_command("prep squad", "issue 3")
