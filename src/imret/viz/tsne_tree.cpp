#include "imret/viz/tsne_tree.hpp"

#include <algorithm>
#include <cmath>

namespace imret::viz::tsne_detail {
namespace {

// Points closer than this on every axis are one point (sklearn's EPSILON):
// it keeps float32 noise from growing the tree without bound.
constexpr float kDuplicate = 1e-6f;

template <int Dim>
bool same_point(const float* a, const float* b) {
  for (int ax = 0; ax < Dim; ++ax)
    if (!(std::fabs(a[ax] - b[ax]) <= kDuplicate)) return false;
  return true;
}

}  // namespace

template <int Dim>
void SpaceTree<Dim>::init_root(const float* points, int64_t count) {
  float lo[Dim], hi[Dim];
  for (int ax = 0; ax < Dim; ++ax) lo[ax] = hi[ax] = points[ax];
  for (int64_t i = 1; i < count; ++i)
    for (int ax = 0; ax < Dim; ++ax) {
      lo[ax] = std::min(lo[ax], points[i * Dim + ax]);
      hi[ax] = std::max(hi[ax], points[i * Dim + ax]);
    }
  Cell root;
  for (int ax = 0; ax < Dim; ++ax) {
    // Push the upper bound out so that every point lies strictly inside the
    // box, whatever the sign and size of the maximum (sklearn's rule).
    const float sign = hi[ax] > 0 ? 1.0f : (hi[ax] < 0 ? -1.0f : 0.0f);
    hi[ax] = std::max(hi[ax] * (1.0f + 1e-3f * sign), hi[ax] + 1e-3f);
    root.min_bounds[ax] = lo[ax];
    root.max_bounds[ax] = hi[ax];
    root.center[ax] = (hi[ax] + lo[ax]) / 2.0f;
    const float width = hi[ax] - lo[ax];
    root.squared_max_width = std::max(root.squared_max_width, width * width);
  }
  std::fill(std::begin(root.children), std::end(root.children), -1);
  cells_.push_back(root);
}

// A new child of `parent` holding `size` copies of `point`; the parent
// becomes an inner cell.
template <int Dim>
int32_t SpaceTree<Dim>::add_child(int32_t parent_id, const float* point, int64_t size) {
  Cell child;
  const Cell& parent = cells_[parent_id];
  int slot = 0;
  for (int ax = 0; ax < Dim; ++ax) {
    slot *= 2;
    if (point[ax] >= parent.center[ax]) {
      slot += 1;
      child.min_bounds[ax] = parent.center[ax];
      child.max_bounds[ax] = parent.max_bounds[ax];
    } else {
      child.min_bounds[ax] = parent.min_bounds[ax];
      child.max_bounds[ax] = parent.center[ax];
    }
    child.center[ax] = (child.min_bounds[ax] + child.max_bounds[ax]) / 2.0f;
    const float width = child.max_bounds[ax] - child.min_bounds[ax];
    child.squared_max_width = std::max(child.squared_max_width, width * width);
    child.barycenter[ax] = point[ax];
  }
  child.size = size;
  std::fill(std::begin(child.children), std::end(child.children), -1);
  const auto id = static_cast<int32_t>(cells_.size());
  cells_.push_back(child);  // may move cells_: no reference to a cell is held across this
  cells_[parent_id].is_leaf = false;
  cells_[parent_id].children[slot] = id;
  return id;
}

template <int Dim>
void SpaceTree<Dim>::insert(const float* point) {
  int32_t id = 0;
  while (true) {
    Cell& cell = cells_[id];
    if (cell.size == 0) {  // an empty leaf (only the root of a new tree)
      cell.size = 1;
      std::copy(point, point + Dim, cell.barycenter);
      return;
    }
    if (!cell.is_leaf) {
      const auto n = static_cast<float>(cell.size);
      for (int ax = 0; ax < Dim; ++ax) cell.barycenter[ax] = (n * cell.barycenter[ax] + point[ax]) / (n + 1.0f);
      cell.size += 1;
      int slot = 0;
      for (int ax = 0; ax < Dim; ++ax) slot = slot * 2 + (point[ax] >= cell.center[ax] ? 1 : 0);
      if (cell.children[slot] == -1) {
        add_child(id, point, 1);
        return;
      }
      id = cell.children[slot];
      continue;
    }
    if (same_point<Dim>(point, cell.barycenter)) {
      cell.size += 1;
      return;
    }
    // A leaf holding another point: move that point (with its duplicates)
    // into a child, then insert again into what is now an inner cell.
    float held[Dim];
    std::copy(cell.barycenter, cell.barycenter + Dim, held);
    add_child(id, held, cell.size);
  }
}

template <int Dim>
int32_t SpaceTree<Dim>::flatten(int32_t cell_id) {
  const auto index = static_cast<int32_t>(nodes_.size());
  const Cell& cell = cells_[cell_id];
  Node node;
  std::copy(cell.barycenter, cell.barycenter + Dim, node.barycenter);
  node.squared_max_width = cell.is_leaf ? -1.0f : cell.squared_max_width;
  nodes_.push_back(node);
  sizes_.push_back(static_cast<float>(cell.size));
  for (int c = 0; c < kChildren; ++c)
    if (cells_[cell_id].children[c] != -1) flatten(cells_[cell_id].children[c]);
  nodes_[index].next = static_cast<int32_t>(nodes_.size());
  return index;
}

template <int Dim>
void SpaceTree<Dim>::build(const float* points, int64_t count) {
  cells_.clear();
  nodes_.clear();
  sizes_.clear();
  cells_.reserve(static_cast<size_t>(2 * count + 1));
  init_root(points, count);
  for (int64_t i = 0; i < count; ++i) insert(points + i * Dim);
  nodes_.reserve(cells_.size());
  sizes_.reserve(cells_.size());
  flatten(0);
}

template <int Dim>
double SpaceTree<Dim>::repulsion(const float* point, float squared_angle, int dof, float* force) const {
  double z = 0.0;
  float sum[Dim] = {};
  const Node* nodes = nodes_.data();
  const auto end = static_cast<int32_t>(nodes_.size());
  int32_t i = 0;
  while (i < end) {
    const Node& node = nodes[i];
    float diff[Dim];
    float d2 = 0.0f;
    bool duplicate = true;
    for (int ax = 0; ax < Dim; ++ax) {
      diff[ax] = point[ax] - node.barycenter[ax];
      d2 += diff[ax] * diff[ax];
      duplicate &= std::fabs(diff[ax]) <= kDuplicate;
    }
    // A leaf summarises unless it holds the point itself (its width is
    // stored as -1 so that the width test always passes); an inner cell when
    // it looks small: squared width / d^2 < angle^2, written as a product
    // (the same test; d^2 = 0 fails both ways). Bitwise, without branches:
    // which way a node goes is hard to predict.
    const bool leaf = node.squared_max_width < 0.0f;
    const bool summarises = (node.squared_max_width < squared_angle * d2) & !(leaf & duplicate);
    const float q = student_t(d2, dof);
    const float weight = summarises ? sizes_[i] * q : 0.0f;
    z += weight;
    for (int ax = 0; ax < Dim; ++ax) sum[ax] += weight * q * diff[ax];
    // Skip a summary's subtree, else go to the next node in pre-order (a
    // leaf's subtree is itself, so both are i + 1 there).
    i = summarises ? node.next : i + 1;
  }
  std::copy(sum, sum + Dim, force);
  return z;
}

template class SpaceTree<2>;
template class SpaceTree<3>;

}  // namespace imret::viz::tsne_detail
