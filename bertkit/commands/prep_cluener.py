"""`bertkit prep cluener` (pending: issue 7)."""

from bertkit.commands._pending import PASS_EVERYTHING, pending_command

COMMAND_KWARGS = PASS_EVERYTHING
command = pending_command("prep cluener", "issue 7")
