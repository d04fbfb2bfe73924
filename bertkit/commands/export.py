"""`bertkit export` (pending: issue 5)."""

from bertkit.commands._pending import PASS_EVERYTHING, pending_command

COMMAND_KWARGS = PASS_EVERYTHING
command = pending_command("export", "issue 5")
