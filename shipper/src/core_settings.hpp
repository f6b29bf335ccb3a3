// The shipper core's rows of the settings table: connection, slot, batching, flow control,
// timers, local sinks, observability. Other modules add theirs in AllSettingSpecs().
#pragma once

#include <vector>

#include "settings.hpp"

namespace snowcdc {

std::vector<SettingSpec> CoreSettingSpecs();

}  // namespace snowcdc
