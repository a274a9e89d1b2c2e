#pragma once
// The space-partitioning tree of Barnes-Hut t-SNE: a quadtree (2-D) or an
// octree (3-D) built exactly as scikit-learn's _QuadTree builds it (the same
// bounding box, cells split at their centres, points inserted in index order,
// points within 1e-6 on every axis merged into one leaf), so that the same
// cells summarise the same points.
//
// For the force walk the children of every inner cell are stored together,
// one slot per possible child (empty slots included), axis by axis: a walk
// evaluates all 2^Dim children of a cell at once, lane by lane in SIMD
// registers, and keeps the cells it must open on a small stack.
#include <cmath>
#include <cstdint>
#include <vector>

namespace imret::viz::tsne_detail {

// The unnormalised Student-t kernel of t-SNE with `dof` degrees of freedom,
// (dof / (dof + d^2))^((dof + 1) / 2): 1 / (1 + d^2) for dof = 1. In float,
// as sklearn's Barnes-Hut code computes it.
inline float student_t(float squared_distance, int dof) {
  const float q = static_cast<float>(dof) / (static_cast<float>(dof) + squared_distance);
  return dof == 1 ? q : std::pow(q, (static_cast<float>(dof) + 1.0f) / 2.0f);
}

// Squared Euclidean distance in double (the affinities need the digits the
// matrix-product form of the neighbour search loses; sklearn's exact
// gradient works in double too).
inline double squared_distance(const float* a, const float* b, int64_t dims) {
  double sum = 0.0;
  for (int64_t d = 0; d < dims; ++d) {
    const double diff = static_cast<double>(a[d]) - b[d];
    sum += diff * diff;
  }
  return sum;
}

// One lane per child slot of a quadtree (4) or octree (8) cell, as GCC/Clang
// vector extensions (SSE registers; comparisons give -1 for true, 0 for false).
template <int Count>
struct LaneTypes;
template <>
struct LaneTypes<4> {
  typedef float Float __attribute__((vector_size(16)));
  typedef int32_t Int __attribute__((vector_size(16)));
  typedef double Double __attribute__((vector_size(32)));
};
template <>
struct LaneTypes<8> {
  typedef float Float __attribute__((vector_size(32)));
  typedef int32_t Int __attribute__((vector_size(32)));
  typedef double Double __attribute__((vector_size(64)));
};

template <int Dim>
class SpaceTree {
 public:
  // Builds the tree of `count` points (count x Dim, row-major).
  void build(const float* points, int64_t count);

  // The repulsion on `count` consecutive points of the tree (row-major): for
  // each, the sum over the cells that summarise it of
  // size * q * q * (point - barycentre), written to forces[i * Dim, +Dim),
  // with q = student_t(d^2, dof), and the sum of size * q (the point's share
  // of the normaliser Z) to z[i]. A cell summarises the point when it is a
  // leaf or when its squared widest side / d^2 < squared_angle (sklearn's
  // criterion); the point's own leaf (and its duplicates) is left out. Sums
  // run lane by lane (child slot by child slot), then over the lanes: a fixed
  // order, whatever the points' grouping.
  void repulsion(const float* points, int64_t count, float squared_angle, int dof, float* forces, double* z) const;

 private:
  static constexpr int kChildren = 1 << Dim;
  using Lanes = typename LaneTypes<kChildren>::Float;
  using IndexLanes = typename LaneTypes<kChildren>::Int;
  using DoubleLanes = typename LaneTypes<kChildren>::Double;

  // A cell while the tree is built (sklearn's _QuadTree cell).
  struct Cell {
    float barycenter[Dim];
    float center[Dim];
    float min_bounds[Dim];
    float max_bounds[Dim];
    float squared_max_width = 0;
    int64_t size = 0;
    int32_t children[kChildren];
    bool is_leaf = true;
  };
  // The children of one inner cell for the walk, slot c in lane c. A leaf's
  // squared width is -1 (it always summarises, see repulsion()); an empty
  // slot is a leaf of size 0 at the origin (it adds nothing).
  struct Family {
    Lanes barycenter[Dim];
    Lanes squared_max_width;
    Lanes size;
    IndexLanes children;  // the family of an inner child's children; unused for leaves
  };

  void init_root(const float* points, int64_t count);
  void insert(const float* point);
  int32_t add_child(int32_t parent, const float* point, int64_t size);
  int32_t add_family();
  void set_slot(Family& family, int slot, const Cell& cell) const;
  void lay_out_children(int32_t cell, int32_t family, int depth);
  struct Walk;
  [[gnu::always_inline]] inline void step(Walk& walk, float squared_angle, int dof) const;

  std::vector<Cell> cells_;
  std::vector<Family> families_;  // 0: the root alone in slot 0
  int max_depth_ = 0;             // families on the longest root-to-leaf path
};

extern template class SpaceTree<2>;
extern template class SpaceTree<3>;

}  // namespace imret::viz::tsne_detail
