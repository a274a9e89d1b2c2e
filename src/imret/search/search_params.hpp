#pragma once
// search::SearchParams: the parameters of one search call ("nprobe" 16,
// "efSearch" 64, ...), given to Index::search / Index::range_search. They
// override, for that call only, the index's saved parameters
// (Index::set_parameter); the index itself is not changed, so one index can
// answer concurrent searches with different parameters.
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace imret::search {

class SearchParams {
 public:
  using Entry = std::pair<std::string, double>;

  SearchParams() = default;
  SearchParams(std::initializer_list<Entry> entries);

  // Sets `name`; a name set before keeps its place and takes the new value.
  void set(const std::string& name, double value);
  // The value of `name`, if set.
  std::optional<double> get(const std::string& name) const;
  bool contains(const std::string& name) const { return get(name).has_value(); }
  bool empty() const { return entries_.empty(); }
  // (name, value) in the order the names were first set.
  const std::vector<Entry>& entries() const { return entries_; }
  // "nprobe=16,efSearch=64" (values as %g writes them); "" when empty.
  std::string to_string() const;

 private:
  std::vector<Entry> entries_;
};

// "nprobe=16" -> ("nprobe", 16). Throws UsageError naming `text` when it is
// not name=number.
SearchParams::Entry parse_search_parameter(const std::string& text);

// "nprobe=16,efSearch=64" -> those two (a name given twice: the last value).
// Throws UsageError naming `text` when an item is not name=number or the
// list is empty.
SearchParams parse_search_parameters(const std::string& text);

// Throws UsageError for the first name in `params` that is not in `valid`:
// "<index> has no query-time parameter '<name>' (valid: nprobe, max_codes)",
// or "(it takes none)"; a build-time name, or one in `saved_only` (a
// parameter the index takes only as a saved one, see Index::set_parameter),
// says so.
void check_search_params(const std::string& index, const SearchParams& params, const std::vector<std::string>& valid,
                         const std::vector<std::string>& saved_only = {});

// Whether `name` is a build-time parameter (HNSW's efConstruction): one that
// shapes the index while vectors are added, so Index::set_parameter takes it
// before the first add() and a search call never does.
bool is_build_parameter(const std::string& name);

// `params` split into the build-time ones (for Index::set_parameter before
// the vectors are added) and the query-time ones (for each search call).
struct SplitParams {
  SearchParams build;
  SearchParams query;
};
SplitParams split_build_parameters(const SearchParams& params);

}  // namespace imret::search
