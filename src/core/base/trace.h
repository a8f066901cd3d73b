// The start-up trace (SBX_TRACE=startup, or `sbx run --trace-startup`): named phases with their
// monotonic time, from main() through the sandbox's child (which records into the same shared
// page) to the end of the teardown. Off, a mark is one branch.
#pragma once
#include <string>

namespace sbx::core::trace {

// Turns it on (main does, for SBX_TRACE=startup or --trace-startup in argv): one shared page
// that the processes cloned later write into as well.
void start();
bool on();
// Records a phase ending now. `phase` must outlive the process (a literal, or a kind's name);
// `detail` (may be null) is copied, cut at 40 bytes.
void mark(const char* phase, const char* detail = nullptr);
// The phases in order of time: "  ms-since-exec  +ms  pid  phase detail" lines, the first one
// main, at the cpu time the process had by then (the dynamic loader, static init; and the part of
// the fork that made it before its exec, which is small when the caller execs at once).
std::string report();

}  // namespace sbx::core::trace
