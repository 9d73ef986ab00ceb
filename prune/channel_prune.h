// Structured channel pruning: output channels (filters) of Conv and Gemm are removed
// physically and every reader of those channels is rewritten to match.
//
// How it works:
//  1. Clean-up that does not change any number: Constant nodes become initializers,
//     Identity/Dropout are removed (so that a bias shared through an Identity is seen).
//     BatchNormalization is kept and sliced, so ratio 0 is output-identical.
//  2. Channel spaces: every Conv (group 1) and Gemm (transA 0) with a constant float
//     weight opens one space of C_out channels on its output. Walking the graph in
//     order, each value records its axis-1 layout: a list of segments (space, channels,
//     inner), where `inner` is the number of consecutive axis-1 positions that one
//     channel owns after a Flatten (H*W) — channel c of a segment owns positions
//     offset + c*inner ... offset + (c+1)*inner - 1. Concat on axis 1 appends segments.
//     Element-wise ops, pooling, BN and depthwise Conv (group == channels, one filter
//     per channel) pass the layout through; a per-channel constant operand of an
//     element-wise op and the BN parameters are sliced with it.
//  3. Add/Mul/Sub/Div/Max/Min/Sum of two pruned values tie their spaces into one group
//     (union-find): the group removes the same channel indices from every member,
//     chosen by the sum of the members' filter norms.
//  4. A space read by anything else (graph output, Reshape, Transpose, Softmax, a
//     subgraph, a grouped Conv, a Concat on another axis, an Add with an unprunable
//     operand...) blocks its whole group, which is left whole; the report says why.
//  5. Each unblocked group of C channels removes floor(ratio * C) channels (at least 1
//     stays) of smallest norm; ties keep the lower index. With round_to N > 1 the count
//     kept is rounded up to a multiple of N, at most C (C itself when C < N). Producers lose filters, Conv/
//     Gemm/MatMul readers lose input channels (weight columns, Flatten-aware), depthwise
//     Conv loses channels and its group count shrinks. Shared initializers are copied
//     before they are sliced. Shapes are re-inferred; a failure there is Error(Internal).
// --exclude NAME keeps that layer's output channels (its inputs still follow its producers).
// Scope is per group (--scope global is rejected for channels).
#pragma once
#include "prune/prune_options.h"

namespace mc::prune {

PruneResult prune_channels(Model& m, const PruneOptions& opts);

}  // namespace mc::prune
