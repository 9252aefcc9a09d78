// Command-line parsing for `longpin matrix` into a MatrixConfig, and the conversion of each cell's options
// into its RunConfig by the checks of `longpin run` (a preset under the cell's own coordinates).
#pragma once

#include <CLI/CLI.hpp>

#include "workloads/matrix.h"

namespace longpin {

// Declares the options of `longpin matrix` on app.
void AddMatrixOptions(CLI::App& matrix, MatrixConfig& config);
// Runs the matrix of the parsed options (empty list entries dropped, the preset looked up); returns the exit
// code of MatrixCommand, or 2 for a preset that does not exist or does not parse.
int RunMatrix(MatrixConfig config);

}  // namespace longpin
