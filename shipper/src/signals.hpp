// Signal handling: handlers only set flags that the main loop reads. SIGTERM/SIGINT ask for
// a drain; a second one exits at once (status 130); SIGHUP asks for a settings reload.
// SIGPIPE is ignored so that a closed stdout becomes a write error, not a silent death.
#pragma once

namespace snowcdc {

void InstallSignalHandlers();
bool StopRequested();
// True once per SIGHUP received since the last call.
bool TakeReloadRequest();

}  // namespace snowcdc
