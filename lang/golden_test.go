package lang

// goldenDir is the repository's testdata/lang: errors/ (bad inputs and
// their diagnostics) and format/ (inputs and their canonical form), run
// by internal/txtartest, the project's one golden harness.
const goldenDir = "../testdata/lang"
