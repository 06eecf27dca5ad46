import Detection

/// The Detection module's box. (The module also has a type named `Detection`, so the name
/// `Detection.Box` does not resolve; files that import both Datasets and Detection use these aliases.)
typealias DetectionBox = Box
