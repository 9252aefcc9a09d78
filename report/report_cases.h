// The test cases of a report document, as JUnit, KTAP and KCIDB report them: a run is its phases, its
// verification (or, for a race script, its findings) and its verdict; a matrix cell is one case judged by
// its kernel's rule. Read leniently like every renderer (report/report_formats.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace longpin::report_detail {

// One test as JUnit and KTAP both see it.
struct ReportCase {
  // kXfail: the kernel refused what its rule says it must refuse (KTAP's XFAIL; a pass for JUnit).
  enum class Result { kPass, kFail, kSkip, kError, kXfail };
  std::string name;
  std::string group;  // a matrix cell's kernel: KTAP subtest and JUnit classname
  Result result = Result::kPass;
  std::string message;               // one line: why it failed or was skipped
  std::vector<std::string> details;  // violation lines, kernel lines, stacks
  std::string output;                // measurements, for JUnit's system-out
  double seconds = 0;
};
// The cases of one run document (phases, verification, verdict).
std::vector<ReportCase> RunCases(const nlohmann::json& run);
// One matrix cell as a single case, named pinner/fs/mapping/sync, judged by its kernel's rule when it has
// one.
ReportCase CellCase(const nlohmann::json& cell);
// A test name for KTAP and JUnit: no whitespace and no '#' (KTAP reads '#' as the start of a directive).
std::string TestName(std::string_view text);
// One line per violation: contract, kind, block, offset, expected/found generation, writer, promising sync.
std::string ViolationLine(const nlohmann::json& v);

}  // namespace longpin::report_detail
