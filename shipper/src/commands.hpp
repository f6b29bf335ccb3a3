// The operator subcommands besides `run`: `check` validates settings and connectivity and
// prints each problem with its fix; `status` shows the slot's position and lag.
#pragma once

#include "settings.hpp"

namespace snowcdc {

// Both return the process exit status (0 = all good).
int RunCheck(const Settings &settings);
int RunStatus(const Settings &settings);

}  // namespace snowcdc
