// Retrieval metrics: imret vs scikit-learn/NumPy on the same scores.
//
//   imret_bench_metrics [--queries 10000] [--database 60000] [--classes 10]
//                       [--seed 0] [--threads 0] [--peer-queries M] [--no-peer]
//                       [--embedding-dim 0] [--repeats 3] [--ks 1,5,10] [--keep DIR]
//     Generates class-dependent Gaussian scores (rounded to 1e-4, so many
//     ties), computes the full metric set with imret (all threads and one
//     thread), then runs bench/metrics_peer.py (sklearn average_precision_score
//     loop + NumPy P@K/R@K/mAP@R/R-precision/MRR) on the same .npy files and
//     prints both times (imret: best of --repeats runs), the ratio and the
//     largest difference of every metric.
//     --peer-queries M: the peer only does the first M queries and its time is
//     extrapolated (said so in the output). --embedding-dim D > 0 also times
//     evaluate_retrieval end to end on random D-dim embeddings (no peer).
//
//   imret_bench_metrics --per-query-ap SCORES.npy RELEVANCE.npy OUT.npy
//   imret_bench_metrics --per-query-metrics SCORES.npy RELEVANCE.npy OUT.npy [--ks 1,5,10]
//     SCORES: Q x N float32; RELEVANCE: Q x N float32 (1 relevant, 0 not,
//     -1 excluded). OUT (float64): Q x 1 AP, or Q x M with the columns of
//     per_query_columns() below. Used by tests/parity/test_average_precision.py.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"
#include "imret/core/feedback.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/runtime.hpp"
#include "imret/eval/evaluate.hpp"
#include "imret/eval/metrics.hpp"
#include "imret/eval/relevance.hpp"

namespace fs = std::filesystem;
using imret::eval::MetricOptions;
using imret::eval::QueryMetrics;

namespace {

// ---------------------------------------------------------------------------
// Command line

struct Args {
  std::map<std::string, std::string> options;
  std::vector<std::string> positional;
  bool has(const std::string& name) const { return options.count(name) > 0; }
  int64_t integer(const std::string& name, int64_t fallback) const {
    auto it = options.find(name);
    return it == options.end() ? fallback : std::stoll(it->second);
  }
  std::string text(const std::string& name, const std::string& fallback) const {
    auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
  }
};

Args parse_args(int argc, char** argv) {
  const std::vector<std::string> flags = {"--no-peer", "--per-query-ap", "--per-query-metrics"};
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      args.positional.push_back(arg);
    } else if (std::find(flags.begin(), flags.end(), arg) != flags.end()) {
      args.options[arg] = "1";
    } else {
      if (i + 1 >= argc) throw imret::UsageError(arg + " needs a value");
      args.options[arg] = argv[++i];
    }
  }
  return args;
}

std::vector<int> parse_ks(const std::string& text) {
  std::vector<int> ks;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) ks.push_back(std::stoi(part));
  return ks;
}


// ---------------------------------------------------------------------------
// Per-query modes (parity test entry point)

// Relevance read from a Q x N float matrix (1 / 0 / -1).
class MatrixRelevance : public imret::eval::Relevance {
 public:
  explicit MatrixRelevance(const imret::FloatMatrix& m) : m_(m) {}
  int64_t num_queries() const override { return m_.rows; }
  int64_t database_size() const override { return m_.cols; }
  void grade_row(int64_t query, int8_t* out) const override {
    const float* row = m_.values.data() + query * m_.cols;
    for (int64_t i = 0; i < m_.cols; ++i) out[i] = row[i] > 0 ? 1 : (row[i] < 0 ? -1 : 0);
  }

 private:
  const imret::FloatMatrix& m_;
};

// Columns of --per-query-metrics and of the peer's per-query output.
std::vector<double> per_query_columns(const QueryMetrics& m) {
  std::vector<double> row = {static_cast<double>(m.num_relevant), m.average_precision, m.map_at_r, m.r_precision,
                             m.reciprocal_rank};
  for (const auto* values : {&m.precision_at_k, &m.recall_at_k, &m.hit_rate_at_k})
    row.insert(row.end(), values->begin(), values->end());
  return row;
}

std::vector<std::string> column_names(const std::vector<int>& ks) {
  std::vector<std::string> names = {"num_relevant", "AP", "mAP@R", "R-precision", "RR"};
  for (const char* prefix : {"P@", "R@", "hit@"})
    for (int k : ks) names.push_back(prefix + std::to_string(k));
  return names;
}

// imret's core writes float32 .npy; the parity test needs the exact doubles.
void save_npy_float64(const fs::path& path, const std::vector<double>& values, int64_t rows, int64_t cols) {
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  imret::AtomicFile file(path);
  auto& out = file.stream();
  out.write("\x93NUMPY\x01\x00", 8);
  const char length[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  out.write(length, 2);
  out << header;
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(double)));
  file.commit();
}

int per_query_mode(const Args& args, bool all_metrics) {
  if (args.positional.size() != 3)
    throw imret::UsageError("usage: imret_bench_metrics --per-query-ap|--per-query-metrics SCORES.npy RELEVANCE.npy OUT.npy");
  const auto scores = imret::load_npy(args.positional[0]);
  const auto relevance_matrix = imret::load_npy(args.positional[1]);
  if (scores.rows != relevance_matrix.rows || scores.cols != relevance_matrix.cols)
    throw imret::Error("scores and relevance have different shapes");
  MetricOptions options;
  options.ks = parse_ks(args.text("--ks", "1,5,10"));
  MatrixRelevance relevance(relevance_matrix);
  std::vector<QueryMetrics> metrics(static_cast<size_t>(scores.rows));
  imret::eval::evaluate_score_rows(scores.values.data(), scores.rows, 0, relevance, options, metrics.data());
  std::vector<double> out;
  int64_t cols = 1;
  for (const auto& m : metrics) {
    const auto row = all_metrics ? per_query_columns(m) : std::vector<double>{m.average_precision};
    cols = static_cast<int64_t>(row.size());
    out.insert(out.end(), row.begin(), row.end());
  }
  save_npy_float64(args.positional[2], out, scores.rows, cols);
  return 0;
}

// ---------------------------------------------------------------------------
// Benchmark mode

struct Data {
  int64_t queries = 0, database = 0;
  std::vector<int64_t> query_labels, database_labels;
  std::vector<float> scores;  // queries x database
};

// Labels uniform over the classes; score = N(0.45, 0.15) for the same class,
// N(0.25, 0.15) otherwise, rounded to 1e-4 (many ties, as real cosine scores
// stored at low precision have).
Data make_data(int64_t queries, int64_t database, int64_t classes, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  Data d;
  d.queries = queries;
  d.database = database;
  const auto ql = torch::randint(classes, {queries}, generator, torch::kInt64);
  const auto dl = torch::randint(classes, {database}, generator, torch::kInt64);
  d.query_labels.assign(ql.data_ptr<int64_t>(), ql.data_ptr<int64_t>() + queries);
  d.database_labels.assign(dl.data_ptr<int64_t>(), dl.data_ptr<int64_t>() + database);
  d.scores.resize(static_cast<size_t>(queries * database));
  const int64_t block = 256;
  for (int64_t q0 = 0; q0 < queries; q0 += block) {
    const int64_t rows = std::min(block, queries - q0);
    const auto same = (ql.narrow(0, q0, rows).unsqueeze(1) == dl.unsqueeze(0)).to(torch::kFloat32);
    auto s = torch::randn({rows, database}, generator, torch::kFloat32).mul_(0.15f).add_(same * 0.2f + 0.25f);
    s = s.mul_(1e4f).round_().div_(1e4f).contiguous();
    std::copy(s.data_ptr<float>(), s.data_ptr<float>() + rows * database, d.scores.data() + q0 * database);
  }
  return d;
}

struct ImretRun {
  double seconds = 0;
  std::vector<QueryMetrics> per_query;
};

// Best of `repeats` runs (the machine may be shared); prints the summary once.
ImretRun run_imret(const Data& d, const MetricOptions& options, int repeats) {
  imret::eval::SameClassRelevance relevance(d.query_labels, d.database_labels, false);
  ImretRun run;
  run.per_query.resize(static_cast<size_t>(d.queries));
  imret::eval::Summary summary;
  run.seconds = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    imret::eval::evaluate_score_rows(d.scores.data(), d.queries, 0, relevance, options, run.per_query.data());
    imret::eval::MetricsAccumulator accumulator(options);
    for (const auto& m : run.per_query) accumulator.add(m);
    summary = accumulator.summary();
    run.seconds = std::min(run.seconds, imret::seconds_since(start));
  }
  std::cout << "imret summary (" << at::get_num_threads() << " threads):\n" << summary.to_table();
  return run;
}

std::vector<float> to_float(const std::vector<int64_t>& values) { return {values.begin(), values.end()}; }

struct PeerRun {
  double seconds = 0;   // for the queries it did
  int64_t queries = 0;  // how many it did
  std::vector<std::vector<double>> per_query;
};

PeerRun run_peer(const Data& d, const MetricOptions& options, const fs::path& dir, int64_t peer_queries,
                 const fs::path& script) {
  imret::save_npy(dir / "scores.npy", d.scores.data(), d.queries, d.database);
  const auto ql = to_float(d.query_labels), dl = to_float(d.database_labels);
  imret::save_npy(dir / "query_labels.npy", ql.data(), d.queries, 1);
  imret::save_npy(dir / "database_labels.npy", dl.data(), d.database, 1);
  std::string ks;
  for (int k : options.ks) ks += (ks.empty() ? "" : ",") + std::to_string(k);
  const std::string command = "/usr/bin/python3 '" + script.string() + "' --dir '" + dir.string() + "' --ks " + ks +
                              " --queries " + std::to_string(peer_queries);
  std::cout << "peer: " << command << std::endl;
  if (std::system(command.c_str()) != 0) throw imret::Error("the peer failed: " + command);
  const auto result = nlohmann::json::parse(imret::read_file(dir / "peer.json"));
  PeerRun peer;
  peer.seconds = result["seconds"].get<double>();
  peer.queries = result["queries"].get<int64_t>();
  peer.per_query = result["per_query"].get<std::vector<std::vector<double>>>();
  return peer;
}

// Largest |imret - peer| per column over the peer's queries, and of the means.
void compare(const ImretRun& ours, const PeerRun& peer, const std::vector<int>& ks) {
  const auto names = column_names(ks);
  std::vector<double> max_diff(names.size(), 0.0), sum_ours(names.size(), 0.0), sum_peer(names.size(), 0.0);
  for (int64_t q = 0; q < peer.queries; ++q) {
    const auto row = per_query_columns(ours.per_query[static_cast<size_t>(q)]);
    const auto& other = peer.per_query[static_cast<size_t>(q)];
    for (size_t c = 0; c < names.size(); ++c) {
      max_diff[c] = std::max(max_diff[c], std::abs(row[c] - other[c]));
      sum_ours[c] += row[c];
      sum_peer[c] += other[c];
    }
  }
  std::cout << "agreement over " << peer.queries << " queries (max |imret - peer| per query; |difference of means|):\n";
  double worst = 0;
  for (size_t c = 0; c < names.size(); ++c) {
    const double mean_diff = std::abs(sum_ours[c] - sum_peer[c]) / static_cast<double>(peer.queries);
    std::cout << "  " << std::left << std::setw(13) << names[c] << std::right << std::scientific << std::setprecision(2)
              << max_diff[c] << "   " << mean_diff << std::defaultfloat << "\n";
    worst = std::max(worst, max_diff[c]);
  }
  std::cout << (worst <= 1e-9 ? "values identical (max difference " : "VALUES DIFFER (max difference ") << worst
            << ")\n";
}

int bench_mode(const Args& args) {
  const int64_t queries = args.integer("--queries", 10000);
  const int64_t database = args.integer("--database", 60000);
  const int64_t classes = args.integer("--classes", 10);
  const int threads = imret::configure_threads(static_cast<int>(args.integer("--threads", 0)));
  MetricOptions options;
  options.ks = parse_ks(args.text("--ks", "1,5,10"));
  std::cout << "metrics benchmark: " << queries << " queries x " << database << " database items, " << classes
            << " classes, ks " << args.text("--ks", "1,5,10") << ", " << threads << " threads\n";

  auto start = std::chrono::steady_clock::now();
  const Data data = make_data(queries, database, classes, static_cast<uint64_t>(args.integer("--seed", 0)));
  std::cout << "generated scores in " << std::fixed << std::setprecision(2) << imret::seconds_since(start) << " s\n"
            << std::defaultfloat;

  const imret::FeedbackScope quiet(imret::silent_feedback());  // no progress lines in the timings
  const int repeats = static_cast<int>(args.integer("--repeats", 3));
  const ImretRun ours = run_imret(data, options, repeats);
  imret::configure_threads(1);
  const ImretRun single = run_imret(data, options, repeats);
  imret::configure_threads(threads);
  std::cout << std::fixed << std::setprecision(3) << "imret (best of " << repeats << "): " << ours.seconds << " s ("
            << threads << " threads), " << single.seconds << " s (1 thread)\n" << std::defaultfloat;

  if (const int64_t dim = args.integer("--embedding-dim", 0); dim > 0) {
    torch::manual_seed(1);
    const auto q = torch::randn({queries, dim}), db = torch::randn({database, dim});
    imret::eval::SameClassRelevance relevance(data.query_labels, data.database_labels, false);
    start = std::chrono::steady_clock::now();
    imret::eval::evaluate_retrieval(q, db, imret::search::Metric::Cosine, relevance, options);
    std::cout << std::fixed << std::setprecision(3) << "imret evaluate_retrieval end to end (cosine, dim " << dim
              << ", similarities + metrics): " << imret::seconds_since(start) << " s\n" << std::defaultfloat;
  }
  if (args.has("--no-peer")) return 0;

  const fs::path dir = args.has("--keep") ? fs::path(args.text("--keep", ""))
                                          : fs::temp_directory_path() / ("imret_bench_metrics_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path script = fs::path(__FILE__).parent_path() / "metrics_peer.py";
  const PeerRun peer = run_peer(data, options, dir, std::min(queries, args.integer("--peer-queries", queries)), script);
  if (!args.has("--keep")) fs::remove_all(dir);

  const double peer_seconds = peer.seconds * static_cast<double>(queries) / static_cast<double>(peer.queries);
  std::cout << std::fixed << std::setprecision(3) << "peer (sklearn " << "average_precision_score loop + NumPy): "
            << peer.seconds << " s for " << peer.queries << " queries";
  if (peer.queries < queries) std::cout << " -> " << peer_seconds << " s extrapolated to " << queries;
  std::cout << "\n";
  std::cout << std::setprecision(1) << "speed-up: " << peer_seconds / ours.seconds << "x (" << threads
            << " threads), " << peer_seconds / single.seconds << "x (1 thread)\n" << std::defaultfloat;
  compare(ours, peer, options.ks);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    if (args.has("--per-query-ap")) return per_query_mode(args, false);
    if (args.has("--per-query-metrics")) return per_query_mode(args, true);
    return bench_mode(args);
  } catch (const imret::UsageError& e) {
    std::cerr << "imret_bench_metrics: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "imret_bench_metrics: " << e.what() << "\n";
    return 1;
  }
}
