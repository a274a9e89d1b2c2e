#pragma once
// The space-partitioning tree of Barnes-Hut t-SNE: a quadtree (2-D) or an
// octree (3-D) built exactly as scikit-learn's _QuadTree builds it (the same
// bounding box, cells split at their centres, points inserted in index order,
// points within 1e-6 on every axis merged into one leaf), so that the same
// cells summarise the same points.
//
// For the force walk the tree is flattened into pre-order (children in
// sklearn's order) where every node knows where its subtree ends: one forward
// scan over a contiguous array, no recursion, no pointer chasing.
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

template <int Dim>
class SpaceTree {
 public:
  // Builds the tree of `count` points (count x Dim, row-major).
  void build(const float* points, int64_t count);

  // The repulsion on `point` (a point of the tree): the sum over the cells
  // that summarise it of size * q * q * (point - barycentre), written to
  // force[0, Dim), with q = student_t(d^2, dof). Returns the sum of size * q
  // (the point's share of the normaliser Z). A cell summarises the point when
  // it is a leaf or when its squared widest side / d^2 < squared_angle
  // (sklearn's criterion); the point's own leaf (and its duplicates) is left out.
  double repulsion(const float* point, float squared_angle, int dof, float* force) const;

 private:
  static constexpr int kChildren = 1 << Dim;

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
  // The flattened tree, 16 bytes a node in 2-D: `next` is the index just
  // past the node's subtree; a leaf's squared_max_width is -1 (see
  // repulsion()). The sizes, needed only for summaries, live apart.
  struct Node {
    float barycenter[Dim];
    float squared_max_width;
    int32_t next;
  };

  void init_root(const float* points, int64_t count);
  void insert(const float* point);
  int32_t add_child(int32_t parent, const float* point, int64_t size);
  int32_t flatten(int32_t cell);

  std::vector<Cell> cells_;
  std::vector<Node> nodes_;
  std::vector<float> sizes_;
};

extern template class SpaceTree<2>;
extern template class SpaceTree<3>;

}  // namespace imret::viz::tsne_detail
