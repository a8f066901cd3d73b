// Waiting without a shell (`sleep 0.05` from Lua cost a fork and an exec per poll).
#pragma once

namespace sbx::core {

// Sleeps `seconds` (fractions too) on the monotonic clock, the whole time even when a signal
// handler runs meanwhile; nothing for zero, a negative number or NaN.
void sleep_for(double seconds);

// CLOCK_MONOTONIC in seconds.
double monotonic_seconds();

}  // namespace sbx::core
