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
int32_t SpaceTree<Dim>::add_family() {
  Family empty{};
  empty.squared_max_width -= 1.0f;  // every slot an empty leaf
  empty.children -= 1;
  families_.push_back(empty);
  return static_cast<int32_t>(families_.size() - 1);
}

template <int Dim>
void SpaceTree<Dim>::set_slot(Family& family, int slot, const Cell& cell) const {
  for (int ax = 0; ax < Dim; ++ax) family.barycenter[ax][slot] = cell.barycenter[ax];
  family.squared_max_width[slot] = cell.is_leaf ? -1.0f : cell.squared_max_width;
  family.size[slot] = static_cast<float>(cell.size);
}

// Fills `family_id` with the children of the inner cell `cell_id`, then lays
// out their own children (siblings' families next to each other).
template <int Dim>
void SpaceTree<Dim>::lay_out_children(int32_t cell_id, int32_t family_id, int depth) {
  max_depth_ = std::max(max_depth_, depth);
  for (int c = 0; c < kChildren; ++c) {
    const int32_t child = cells_[cell_id].children[c];
    if (child == -1) continue;
    set_slot(families_[family_id], c, cells_[child]);
    if (!cells_[child].is_leaf) {
      const int32_t grandchildren = add_family();  // may move families_: indices only
      families_[family_id].children[c] = grandchildren;
    }
  }
  for (int c = 0; c < kChildren; ++c) {
    const int32_t child = cells_[cell_id].children[c];
    if (child != -1 && !cells_[child].is_leaf) lay_out_children(child, families_[family_id].children[c], depth + 1);
  }
}

template <int Dim>
void SpaceTree<Dim>::build(const float* points, int64_t count) {
  cells_.clear();
  families_.clear();
  cells_.reserve(static_cast<size_t>(2 * count + 1));
  init_root(points, count);
  for (int64_t i = 0; i < count; ++i) insert(points + i * Dim);
  families_.reserve(cells_.size() + 1);
  max_depth_ = 1;
  add_family();
  set_slot(families_[0], 0, cells_[0]);
  if (!cells_[0].is_leaf) {
    families_[0].children[0] = add_family();
    lay_out_children(0, families_[0].children[0], 2);
  }
}

namespace {

// q = student_t() lane by lane; 1 / (1 + d^2) for dof 1 in one go. (Out
// parameters: 32-byte vectors are not passed by value without AVX.)
template <typename Lanes>
[[gnu::always_inline]] inline void student_t_lanes(const Lanes& squared_distance, int dof, Lanes& q) {
  if (dof == 1) {
    q = 1.0f / (1.0f + squared_distance);
    return;
  }
  for (size_t c = 0; c < sizeof(Lanes) / sizeof(float); ++c) q[c] = student_t(squared_distance[c], dof);
}

}  // namespace

// One point's walk: the families still to visit and the sums so far, lane by
// lane.
template <int Dim>
struct SpaceTree<Dim>::Walk {
  const float* point;
  int32_t* stack;
  int top = 1;  // stack[0] = 0: the root's family
  Lanes force[Dim] = {};
  DoubleLanes z = {};

  Walk(const float* p, int32_t* s) : point(p), stack(s) { stack[0] = 0; }

  // The lanes' sums in a fixed order.
  void finish(float* total_force, double* total_z) const {
    double z_sum = 0.0;
    for (int c = 0; c < kChildren; ++c) z_sum += z[c];
    *total_z = z_sum;
    for (int ax = 0; ax < Dim; ++ax) {
      float sum = 0.0f;
      for (int c = 0; c < kChildren; ++c) sum += force[ax][c];
      total_force[ax] = sum;
    }
  }
};

// Visits the family on top of the walk's stack: adds the children that
// summarise the point, pushes the families of those to open.
template <int Dim>
void SpaceTree<Dim>::step(Walk& walk, float squared_angle, int dof) const {
  const Family& family = families_[walk.stack[--walk.top]];
  Lanes diff[Dim];
  Lanes d2 = {};
  IndexLanes duplicate = ~IndexLanes{};
  for (int ax = 0; ax < Dim; ++ax) {
    diff[ax] = walk.point[ax] - family.barycenter[ax];
    d2 += diff[ax] * diff[ax];
    duplicate &= (diff[ax] <= kDuplicate) & (diff[ax] >= -kDuplicate);
  }
  // A leaf summarises unless it holds the point itself (its width is -1 so
  // that the width test always passes); an inner cell when it looks small:
  // squared width / d^2 < angle^2, written as a product (the same test;
  // d^2 = 0 fails both ways). Inner cells that do not summarise are opened.
  const IndexLanes leaf = family.squared_max_width < 0.0f;
  const IndexLanes summarises = (family.squared_max_width < squared_angle * d2) & ~(leaf & duplicate);
  const IndexLanes opens = ~(summarises | leaf);
  Lanes q;
  student_t_lanes(d2, dof, q);
  const Lanes weight = summarises ? family.size * q : Lanes{};
  walk.z += __builtin_convertvector(weight, DoubleLanes);
  for (int ax = 0; ax < Dim; ++ax) walk.force[ax] += weight * q * diff[ax];
  for (int c = 0; c < kChildren; ++c) {  // push without branches
    walk.stack[walk.top] = family.children[c];
    walk.top -= opens[c];  // opens is -1 (true) or 0
  }
}

template <int Dim>
void SpaceTree<Dim>::repulsion(const float* points, int64_t count, float squared_angle, int dof, float* forces,
                               double* z) const {
  // A stack holds at most kChildren - 1 families left behind per level, plus
  // the slot written ahead of each push.
  const auto capacity = static_cast<size_t>((max_depth_ + 1) * kChildren);
  std::vector<int32_t> stacks(2 * capacity);
  int64_t i = 0;
  for (; i + 1 < count; i += 2) {  // two walks interleaved: one's loads overlap the other's arithmetic
    Walk a(points + i * Dim, stacks.data()), b(points + (i + 1) * Dim, stacks.data() + capacity);
    while (a.top > 0 && b.top > 0) {
      step(a, squared_angle, dof);
      step(b, squared_angle, dof);
    }
    while (a.top > 0) step(a, squared_angle, dof);
    while (b.top > 0) step(b, squared_angle, dof);
    a.finish(forces + i * Dim, z + i);
    b.finish(forces + (i + 1) * Dim, z + i + 1);
  }
  if (i < count) {
    Walk last(points + i * Dim, stacks.data());
    while (last.top > 0) step(last, squared_angle, dof);
    last.finish(forces + i * Dim, z + i);
  }
}

template class SpaceTree<2>;
template class SpaceTree<3>;

}  // namespace imret::viz::tsne_detail
