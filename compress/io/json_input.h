// Parsing a small JSON file given by the user (configs): nesting is bounded before the parser
// sees the text (security.md), and any problem is an Error(Input) naming `source`.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace mc {

// Keeps the file's key order (ordered_json). Throws Error(Input) "<source>: ..." when the text
// nests deeper than `max_depth` objects/arrays or is not valid JSON.
nlohmann::ordered_json parse_user_json(const std::string& text, const std::string& source, int max_depth = 8);

}  // namespace mc
