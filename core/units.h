// Parsing of human sizes and durations for the command line and job files. Errors are messages, not
// exceptions: the caller turns them into one line and exit 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace longpin {

// "4096", "4k", "4K", "4KiB", "256M", "1G", "2MiB" (powers of 1024). nullopt on anything else.
std::optional<uint64_t> ParseSize(const std::string& text);
// "5" (seconds), "5s", "10ms", "250us", "2m", "1.5s". nullopt on anything else or a negative value.
std::optional<double> ParseDuration(const std::string& text);
std::string FormatSize(uint64_t bytes);
// "a,b,,c" -> {a, b, c}: a comma list of an option, empty entries dropped.
std::vector<std::string> SplitCommaList(const std::string& text);
std::string FormatNs(uint64_t ns);

}  // namespace longpin
