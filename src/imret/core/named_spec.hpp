#pragma once
// Settings written as "name:key=value,key=value" (gem:p=3, learned:dim=64):
// the name and its numbers, parsed and checked for the option that gave them.
#include <map>
#include <string>

namespace imret {

struct NamedSpec {
  std::string name;
  std::map<std::string, double> values;  // the given ones over the defaults
};

// Splits `text` into its name and key=number pairs. `defaults` lists every key
// the name takes (with its default). UsageError naming `option` and the text for
// an unknown key, a value that is not a number, or a malformed item.
NamedSpec parse_named_spec(const std::string& text, const std::string& option,
                           const std::map<std::string, double>& defaults);

// A number as a spec writes it: the shortest text that reads back as the same double.
std::string spec_number(double value);

}  // namespace imret
