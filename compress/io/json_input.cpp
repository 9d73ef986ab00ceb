#include "compress/io/json_input.h"

#include <algorithm>

#include "compress/error.h"

namespace mc {

nlohmann::ordered_json parse_user_json(const std::string& text, const std::string& source, int max_depth) {
  int depth = 0, deepest = 0;
  bool in_str = false, esc = false;
  for (char ch : text) {
    if (in_str) {
      if (esc) esc = false;
      else if (ch == '\\') esc = true;
      else if (ch == '"') in_str = false;
      continue;
    }
    if (ch == '"') in_str = true;
    else if (ch == '{' || ch == '[') deepest = std::max(deepest, ++depth);
    else if (ch == '}' || ch == ']') --depth;
  }
  if (deepest > max_depth) throw_input_error(source, "config nested too deeply");
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(source, std::string("not valid JSON: ") + e.what());
  }
}

}  // namespace mc
