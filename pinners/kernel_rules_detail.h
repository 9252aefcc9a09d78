// What the rules file's loader (kernel_rules_file.cc) and the matcher (kernel_rules.cc) share: version
// syntax, list helpers and the check that no two rules judge one cell differently. Not for other users.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pinners/kernel_rules.h"

namespace longpin::kernel_rules_detail {

std::string Join(const std::vector<std::string>& items, const char* separator);
bool Contains(const std::vector<std::string>& items, const std::string& s);

// A version as the rules file writes it: nothing but MAJOR.MINOR[.PATCH].
std::optional<KernelVersion> ParseExactVersion(std::string_view s);
// An NVIDIA driver version: "550", "550.67", "550.54.14".
std::optional<KernelVersion> ParseDriverVersion(std::string_view s);

// "FILE:LINE: what".
std::string At(const std::string& path, int line, const std::string& what);

// Two equally specific rules that share a cell must agree on it, unless a more specific rule decides all of
// the cells they share: the "FILE:LINE: ..." error when they do not.
std::optional<std::string> CheckConflicts(const std::string& path, const std::vector<KernelRule>& rules);

}  // namespace longpin::kernel_rules_detail
