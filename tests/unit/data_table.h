// A reader for the '|'-separated data tables of tests/unit/data/ (tests as data).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace tams::testing {

// One row of a '|'-separated table. `line` is the 1-based line number in the file.
struct Row {
  int line = 0;
  std::vector<std::string> fields;
};

inline std::string Trim(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return "";
  const size_t last = s.find_last_not_of(" \t\r");
  return std::string(s.substr(first, last - first + 1));
}

// A field in double quotes is literal, with the escapes \t \n \r \\ \" \xNN.
inline std::string Unquote(const std::string& field) {
  if (field.size() < 2 || field.front() != '"' || field.back() != '"') return field;
  std::string out;
  for (size_t i = 1; i + 1 < field.size(); ++i) {
    if (field[i] != '\\' || i + 2 >= field.size()) {
      out += field[i];
      continue;
    }
    const char e = field[++i];
    if (e == 't') {
      out += '\t';
    } else if (e == 'n') {
      out += '\n';
    } else if (e == 'r') {
      out += '\r';
    } else if (e == 'x') {
      out += static_cast<char>(std::stoi(field.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += e;
    }
  }
  return out;
}

inline std::vector<Row> ReadTable(const std::string& name) {
  std::ifstream in(std::string(TAMS_TEST_DATA_DIR) + "/" + name);
  EXPECT_TRUE(in.is_open()) << "cannot open " << TAMS_TEST_DATA_DIR << "/" << name;
  std::vector<Row> rows;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    const std::string trimmed = Trim(text);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    const std::string_view view = text;
    Row row{line, {}};
    size_t from = 0;
    while (true) {
      const size_t bar = text.find('|', from);
      row.fields.push_back(Unquote(Trim(view.substr(from, bar - from))));
      if (bar == std::string::npos) break;
      from = bar + 1;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

inline std::string Where(const std::string& file, const Row& row) {
  return file + ":" + std::to_string(row.line) + ": input \"" + row.fields[0] + "\"";
}

}  // namespace tams::testing
