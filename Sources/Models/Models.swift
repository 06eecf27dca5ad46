// Models: the architecture zoo of the SpineNet paper as data.
//
// Pipeline (each step plain data, each in its own file):
//
//   ablations/specs/*.yaml --SpecLibrary / ModelSpec.parse--> ModelSpec        (block list, stem, scaling)
//     missing inputs       --ConnectionRule.connect-------->  ModelSpec        (deterministic, in the search space)
//     Table 9 damage       --GraphDamage.apply------------->  ModelSpec        (one parent per block)
//   ModelSpec + ModelOptions --ModelBuilder.build----------> ModelPlan        (LayerNodes with shapes)
//   ModelPlan.counts                                        -> params / MACs   (Counting.swift)
//   ModelPlan --Network(plan:seed:)--> Engine layers; net(image, on: tape) -> levels L3..L7 + head outputs
//
// Counting and training walk the same node list, so they cannot disagree (NetworkTests checks it).
//
// Conventions (docs/paper-facts.md §2-§3, TF Model Garden):
// - Node kinds: input, conv (SAME, stride 1/2, optional bias), batchNorm, activation, maxPool (3x3/2 SAME),
//   upsample (nearest by 2^k, then cropped top-left to ceil(input/2^l)), add, mean, globalAvgPool, dense.
// - Params: conv kernels and biases, BN gamma and beta, dense weights; once per weightKey (RetinaNet tower and
//   prediction convs are shared across levels, their BNs are per level). MACs: conv and dense at batch 1.
// - "Backbone" is everything before the head: stem, blocks and endpoint convs for SpineNet, ResNet + FPN for
//   R50-FPN.
// - Nodes that feed no output are pruned (a damaged graph's orphan blocks cost nothing, as in Keras).
// - Output-block rule matches level and channels (TFM compares widths; identical unless levels collapse
//   to the same size on tiny inputs).
