// The one place where sinks and their settings plug into the shipper: AllSettingSpecs()
// lists every module's settings rows, MakeSink() builds the sink named by the `sink` setting.
#pragma once

#include <memory>
#include <vector>

#include "settings.hpp"
#include "sink.hpp"

namespace snowcdc {

// Core rows first, then each module's rows.
std::vector<SettingSpec> AllSettingSpecs();

// Throws ConfigError naming the setting to fix when the sink cannot be built.
std::unique_ptr<Sink> MakeSink(const Settings &settings);

}  // namespace snowcdc
